//! Variable facets: for each argument and local of a group's tracked frames,
//! each extra key, and the host, release, route and thread, how its values
//! are spread over the group's stored occurrences. They tell which inputs
//! fail: a value that every failing occurrence shares stands out.
//!
//! Values are compared as their stored rendering, after masking: every
//! masked value reads as the mask and so counts as one value.

use std::collections::HashMap;

use serde::Serialize;

use error_tracker::{Occurrence, Value};

use crate::views::cut;

/// Values shown per facet; the rest are summed as "other values".
const TOP: usize = 5;
/// A value is shown cut to this many characters (compared whole).
const VALUE_CUT: usize = 80;

/// One facet: a variable and the spread of its values.
#[derive(Debug, Serialize)]
pub(crate) struct Facet {
    /// `host`, `extra`, `argument`, `local`, …
    pub kind: &'static str,
    /// The variable's name (`user_id`), with its frame for arguments and locals.
    pub name: String,
    /// The function of the tracked frame, for arguments and locals.
    pub function: Option<String>,
    /// How many occurrences hold a value for it.
    pub present: usize,
    /// How many occurrences were read.
    pub of: usize,
    pub distinct: usize,
    pub top: Vec<FacetValue>,
    /// Occurrences holding one of the values not in `top`.
    pub others: usize,
    /// `same`: one value in every occurrence read; `unique`: no two
    /// occurrences share a value (more than one read); else none.
    pub marker: Option<&'static str>,
}

#[derive(Debug, Serialize)]
pub(crate) struct FacetValue {
    pub value: String,
    pub count: usize,
    /// The share of the occurrences read, in whole percent (for the text).
    pub percent: u32,
    /// The share as a fraction (for a `<meter>`).
    pub share: f64,
}

/// The facets of `occurrences` (one group's, newest first), in order: host,
/// release, route, thread, the extra keys, then each tracked frame's
/// arguments and locals. Facets with no value in any occurrence are left out.
pub(crate) fn facets(occurrences: &[Occurrence]) -> Vec<Facet> {
    let mut b = Builder::default();
    for (i, o) in occurrences.iter().enumerate() {
        b.add(i, "host", "host", None, Cow::Text(&o.host));
        if let Some(r) = &o.release {
            b.add(i, "release", "release", None, Cow::Text(r));
        }
        if let Some(r) = &o.request {
            let route = r.route.as_deref().unwrap_or(&r.path);
            b.add(i, "route", "route", None, Cow::Owned(format!("{} {route}", r.method)));
        }
        if let Some(t) = &o.thread {
            b.add(i, "thread", "thread", None, Cow::Text(t));
        }
        for v in &o.extra {
            b.add(i, "extra", &v.name, None, Cow::Value(&v.value));
        }
        for f in &o.frames {
            for v in &f.args {
                b.add(i, "argument", &v.name, Some(&f.function), Cow::Value(&v.value));
            }
            for v in &f.locals {
                b.add(i, "local", &v.name, Some(&f.function), Cow::Value(&v.value));
            }
        }
    }
    b.finish(occurrences.len())
}

enum Cow<'a> {
    Text(&'a str),
    Owned(String),
    Value(&'a Value),
}

impl Cow<'_> {
    fn render(self) -> String {
        match self {
            Cow::Text(s) => s.to_owned(),
            Cow::Owned(s) => s,
            Cow::Value(Value::String(s)) => s.clone(),
            // Compact: one line per value in the facet table.
            Cow::Value(v) => serde_json::to_string(v).unwrap_or_default(),
        }
    }
}

type Key = (&'static str, String, Option<String>);

#[derive(Default)]
struct Builder {
    order: Vec<Key>,
    values: HashMap<Key, Tally>,
}

/// One facet's counts so far.
#[derive(Default)]
struct Tally {
    /// Per rendered value, the occurrences holding it.
    counts: HashMap<String, usize>,
    /// The occurrences holding a value.
    present: usize,
    /// The last occurrence counted, so that a variable seen twice in one
    /// occurrence (a frame tracked twice in a recursion) counts once.
    last: Option<usize>,
}

impl Builder {
    fn add(&mut self, occurrence: usize, kind: &'static str, name: &str, function: Option<&str>, value: Cow<'_>) {
        let key = (kind, name.to_owned(), function.map(str::to_owned));
        let entry = match self.values.get_mut(&key) {
            Some(e) => e,
            None => {
                self.order.push(key.clone());
                self.values.entry(key).or_default()
            }
        };
        if entry.last == Some(occurrence) {
            return;
        }
        entry.last = Some(occurrence);
        entry.present += 1;
        *entry.counts.entry(value.render()).or_default() += 1;
    }

    fn finish(mut self, of: usize) -> Vec<Facet> {
        let rank = |kind: &str| ["host", "release", "route", "thread", "extra"].iter().position(|k| *k == kind);
        // Stable: the fixed facets first, then extra keys and frames' variables as first met.
        self.order.sort_by_key(|(kind, _, _)| rank(kind).unwrap_or(usize::MAX));
        self.order
            .into_iter()
            .filter_map(|key| {
                let Tally { counts, present, .. } = self.values.remove(&key)?;
                let distinct = counts.len();
                let mut sorted: Vec<(String, usize)> = counts.into_iter().collect();
                // Most frequent first; ties in the value's order, so the page is stable.
                sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                let others = sorted.iter().skip(TOP).map(|(_, n)| n).sum();
                let share = |n: usize| if of == 0 { 0.0 } else { n as f64 / of as f64 };
                let top = sorted
                    .into_iter()
                    .take(TOP)
                    .map(|(value, count)| FacetValue {
                        value: cut(&value, VALUE_CUT),
                        count,
                        percent: (share(count) * 100.0).round() as u32,
                        share: share(count),
                    })
                    .collect();
                let marker = if distinct == 1 && present == of {
                    Some("same")
                } else if of > 1 && distinct == present && present == of {
                    Some("unique")
                } else {
                    None
                };
                let (kind, name, function) = key;
                Some(Facet { kind, name, function, present, of, distinct, top, others, marker })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use error_tracker::{FrameSnapshot, Timestamp, Variable};

    fn occ(host: &str, user: &str, attempt: i64) -> Occurrence {
        let v = |name: &str, value: Value| Variable { name: name.into(), value };
        Occurrence {
            id: format!("{host}-{user}-{attempt}"),
            exception_name: "E".into(),
            message: "m".into(),
            sources: vec![],
            backtrace: vec![],
            thread: None,
            timestamp: Timestamp::now(),
            host: host.into(),
            pid: 1,
            release: Some("1.0".into()),
            panic: None,
            frames: vec![FrameSnapshot {
                function: "app::charge".into(),
                file: None,
                line: None,
                function_line: None,
                args: vec![v("user", Value::String(user.into()))],
                locals: vec![v("attempt", serde_json::from_value(serde_json::json!(attempt)).unwrap())],
            }],
            request: None,
            extra: vec![v("password", Value::String("********".into()))],
            site: None,
            breadcrumbs: vec![],
            spans: vec![],
            error_backtrace: vec![],
        }
    }

    #[test]
    fn counts_values_and_marks_the_shared_and_the_unique() {
        let all = [occ("a", "bob", 1), occ("a", "bob", 2), occ("b", "bob", 3), occ("a", "eve", 4)];
        let f = facets(&all);
        let names: Vec<_> = f.iter().map(|f| (f.kind, f.name.as_str())).collect();
        assert_eq!(
            names,
            [
                ("host", "host"),
                ("release", "release"),
                ("extra", "password"),
                ("argument", "user"),
                ("local", "attempt")
            ]
        );
        let host = &f[0];
        assert_eq!((host.distinct, host.marker), (2, None));
        assert_eq!((host.top[0].value.as_str(), host.top[0].count, host.top[0].percent), ("a", 3, 75));
        assert_eq!(f[1].marker, Some("same"), "one release in all");
        // Masked values are one value.
        assert_eq!((f[2].distinct, f[2].marker, f[2].top[0].value.as_str()), (1, Some("same"), "********"));
        assert_eq!(f[3].function.as_deref(), Some("app::charge"));
        assert_eq!((f[3].top[0].value.as_str(), f[3].top[0].count), ("bob", 3));
        assert_eq!((f[4].distinct, f[4].marker), (4, Some("unique")));
        assert!(facets(&[]).is_empty());
    }

    #[test]
    fn keeps_the_top_values_and_sums_the_rest() {
        let all: Vec<_> = (0..9).map(|i| occ("h", &format!("user{}", i % 7), i)).collect();
        let user = facets(&all).into_iter().find(|f| f.name == "user").unwrap();
        assert_eq!((user.distinct, user.top.len(), user.others), (7, TOP, 2));
        assert_eq!((user.top[0].value.as_str(), user.top[0].count), ("user0", 2));
    }
}
