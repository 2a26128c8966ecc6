//! What the templates receive: the stored data, shaped for display. Every
//! string here still goes through the templates' HTML escaping.

use std::path::Path;

use serde::Serialize;

use error_tracker::{GroupSummary, Occurrence, Timestamp, Value, Variable};

use crate::charts::Sparkline;
use crate::request::percent_encode;
use crate::source::{SourceContext, context};

/// The list page's message column is cut to this many characters.
const MESSAGE_CUT: usize = 120;

/// `2026-11-25 14:37:42 UTC`.
pub(crate) fn show_time(t: Timestamp) -> String {
    let s = t.to_string();
    format!("{} {} UTC", &s[..10], &s[11..19])
}

/// A time as the pages show it: relative ("3 minutes ago"), with the UTC
/// time on hover (`title`) and in `datetime`, so no script is needed.
#[derive(Debug, Serialize)]
pub(crate) struct TimeView {
    pub ago: String,
    pub utc: String,
    pub iso: String,
}

impl TimeView {
    pub fn new(t: Timestamp, now: Timestamp) -> Self {
        TimeView { ago: ago(t, now), utc: show_time(t), iso: t.to_string() }
    }
}

/// "just now", "3 minutes ago", "yesterday", "5 days ago", "2 months ago":
/// the largest whole unit, as a person would say it.
pub(crate) fn ago(t: Timestamp, now: Timestamp) -> String {
    let secs = now.as_micros().saturating_sub(t.as_micros()) / 1_000_000;
    if secs < 0 {
        // A clock ahead of the UI's: say so rather than "-3 minutes ago".
        return "in the future".into();
    }
    let unit = |n: i64, one: &str| if n == 1 { format!("1 {one} ago") } else { format!("{n} {one}s ago") };
    match secs {
        0..45 => "just now".into(),
        45..3_600 => unit((secs / 60).max(1), "minute"),
        3_600..86_400 => unit(secs / 3_600, "hour"),
        86_400..172_800 => "yesterday".into(),
        172_800..2_592_000 => unit(secs / 86_400, "day"),
        2_592_000..31_536_000 => unit(secs / 2_592_000, "month"),
        _ => unit(secs / 31_536_000, "year"),
    }
}

/// Cuts `s` to `n` characters, with an ellipsis when cut.
pub(crate) fn cut(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// One row of the list page.
#[derive(Serialize)]
pub(crate) struct GroupRow<'a> {
    pub hash: &'a str,
    pub href_hash: String,
    pub exception_name: &'a str,
    pub message: String,
    pub method: Option<&'a str>,
    pub path: Option<&'a str>,
    pub host: &'a str,
    pub count: u64,
    pub first_seen: TimeView,
    pub last_seen: TimeView,
    pub status: &'static str,
    pub spark: Sparkline,
}

impl<'a> GroupRow<'a> {
    pub fn new(g: &'a GroupSummary, spark: Sparkline, now: Timestamp) -> Self {
        Self {
            hash: &g.hash,
            href_hash: percent_encode(&g.hash),
            exception_name: &g.exception_name,
            message: cut(&g.message, MESSAGE_CUT),
            method: g.method.as_deref(),
            path: g.path.as_deref(),
            host: &g.host,
            count: g.count,
            first_seen: TimeView::new(g.created_on, now),
            last_seen: TimeView::new(g.last_seen, now),
            status: g.status.as_str(),
            spark,
        }
    }
}

/// One link of a pager; `href` is `None` for the current page and for gaps.
#[derive(Serialize)]
pub(crate) struct PageLink {
    pub label: String,
    pub href: Option<String>,
    pub current: bool,
}

/// A pager: first, previous, the numbered pages, next and last. A link
/// that leads nowhere (the previous page of the first) is `None`.
#[derive(Serialize)]
pub(crate) struct Pager {
    pub first: Option<String>,
    pub prev: Option<String>,
    pub next: Option<String>,
    /// `None` on the last page, and when the store stopped counting.
    pub last: Option<String>,
    pub links: Vec<PageLink>,
}

/// The pager of page `current` of `pages`: see [`page_links`].
pub(crate) fn pager(current: u32, pages: u64, more: bool, query: &str) -> Pager {
    let pages_n = pages.clamp(1, u64::from(u32::MAX)) as u32;
    let href = |n: u32| format!("?page={n}{query}");
    Pager {
        first: (current > 1).then(|| href(1)),
        prev: (current > 1).then(|| href(current - 1)),
        next: (current < pages_n || more).then(|| href(current.saturating_add(1))),
        last: (current < pages_n && !more).then(|| href(pages_n)),
        links: page_links(current, pages, more, query),
    }
}

/// The pages around `current`, the first and the last, with gaps as "…".
/// When the store stopped counting (`more`), `pages` is only the pages known
/// so far: the pager ends with a "…" instead of a last page.
/// `query` is the rest of the query string (already encoded), kept on each link.
pub(crate) fn page_links(current: u32, pages: u64, more: bool, query: &str) -> Vec<PageLink> {
    let pages = pages.clamp(1, u64::from(u32::MAX)) as u32;
    let mut shown: Vec<u32> = vec![1];
    if !more {
        shown.push(pages);
    }
    shown.extend(current.saturating_sub(2).max(1)..=current.saturating_add(2).min(pages));
    shown.sort_unstable();
    shown.dedup();
    let mut links = Vec::with_capacity(shown.len() * 2);
    let mut previous = 0;
    for n in shown {
        if n > previous + 1 {
            links.push(PageLink { label: "…".into(), href: None, current: false });
        }
        let href = (n != current).then(|| format!("?page={n}{query}"));
        links.push(PageLink { label: n.to_string(), href, current: n == current });
        previous = n;
    }
    if more {
        links.push(PageLink { label: "…".into(), href: None, current: false });
    }
    links
}

/// A named value: strings as they are, anything else as pretty JSON.
#[derive(Serialize)]
pub(crate) struct VarView {
    pub name: String,
    pub value: String,
}

pub(crate) fn show_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}

fn vars(vs: &[Variable]) -> Vec<VarView> {
    vs.iter().map(|v| VarView { name: v.name.clone(), value: show_value(&v.value) }).collect()
}

/// The full view of one occurrence.
#[derive(Serialize)]
pub(crate) struct OccurrenceView {
    pub id: String,
    pub href_id: String,
    pub time: TimeView,
    pub host: String,
    pub pid: u32,
    pub thread: Option<String>,
    pub release: Option<String>,
    pub message: String,
    pub sources: Vec<String>,
    pub panic: Option<PanicView>,
    pub request: Option<RequestView>,
    pub frames: Vec<FrameView>,
    pub backtrace: Vec<BacktraceBlock>,
    pub backtrace_len: usize,
    pub extra: Vec<VarView>,
    /// What was logged before, oldest first (templates/trail.html).
    pub breadcrumbs: Vec<BreadcrumbView>,
    /// The spans it happened in, outermost first.
    pub spans: Vec<SpanView>,
    /// Where the error was created, innermost first, when it carried a backtrace.
    pub error_backtrace: Vec<BacktraceLine>,
}

/// One line of the breadcrumb timeline.
#[derive(Serialize)]
pub(crate) struct BreadcrumbView {
    /// `14:37:42.123`: the day is the occurrence's, or close to it.
    pub time: String,
    /// The full time, for the tooltip.
    pub timestamp: String,
    pub level: String,
    /// The level in lower case, a CSS class (`error`, `warn`, …; else `other`).
    pub level_class: &'static str,
    pub target: String,
    pub message: String,
    pub fields: Vec<VarView>,
}

/// One span of the path.
#[derive(Serialize)]
pub(crate) struct SpanView {
    pub name: String,
    pub target: String,
    /// `name{key=value …}`, as tracing shows a span.
    pub text: String,
    pub fields: Vec<VarView>,
}

/// A panic: its message is the occurrence's, so only a message that
/// differs (it never does for the panic hook's own) is shown again.
#[derive(Serialize)]
pub(crate) struct PanicView {
    pub message: Option<String>,
    pub location: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct RequestView {
    pub method: String,
    pub url: String,
    pub route: Option<String>,
    pub headers: Vec<VarView>,
    pub query: Vec<VarView>,
    pub body: Option<String>,
    pub client_addr: Option<String>,
    pub custom: Vec<VarView>,
}

#[derive(Serialize)]
pub(crate) struct FrameView {
    pub function: String,
    pub location: Option<String>,
    pub args: Vec<VarView>,
    pub locals: Vec<VarView>,
    /// The failing line in context, when the frame names a file and line.
    pub source: Option<SourceContext>,
}

/// Consecutive backtrace frames that are all the application's or all
/// library code (the tracker's own frames included): library blocks are
/// shown collapsed.
#[derive(Serialize)]
pub(crate) struct BacktraceBlock {
    pub in_app: bool,
    pub frames: Vec<BacktraceLine>,
}

#[derive(Serialize)]
pub(crate) struct BacktraceLine {
    pub index: usize,
    pub function: String,
    pub location: Option<String>,
    pub source: Option<SourceContext>,
}

/// The in-app backtrace frames shown with their source, innermost first:
/// the rest is seldom read, and each costs a file read.
const BACKTRACE_SOURCES: usize = 8;

/// The tracker's own frames (the capture macros, the panic hook) say
/// nothing about the failure: they are collapsed with the library's.
fn is_tracker_frame(function: &str) -> bool {
    let f = function.trim_start_matches('<');
    f.starts_with("error_tracker::") || f.starts_with("error_tracker_macros::")
}

fn location(file: Option<&str>, line: Option<u32>) -> Option<String> {
    file.map(|f| match line {
        Some(l) => format!("{f}:{l}"),
        None => f.to_owned(),
    })
}

fn source_of(root: Option<&Path>, file: Option<&str>, line: Option<u32>) -> Option<SourceContext> {
    Some(context(root, file?, line?))
}

impl OccurrenceView {
    /// `root`: the canonical source root (`None`: no source is read).
    pub fn new(o: &Occurrence, root: Option<&Path>, now: Timestamp) -> Self {
        let mut backtrace: Vec<BacktraceBlock> = Vec::new();
        let mut sources_left = BACKTRACE_SOURCES;
        for (index, f) in o.backtrace.iter().enumerate() {
            let in_app = f.in_app && !is_tracker_frame(&f.function);
            let source = if in_app && sources_left > 0 {
                sources_left -= 1;
                source_of(root, f.file.as_deref(), f.line)
            } else {
                None
            };
            let line = BacktraceLine {
                index,
                function: f.function.clone(),
                location: location(f.file.as_deref(), f.line),
                source,
            };
            match backtrace.last_mut() {
                Some(b) if b.in_app == in_app => b.frames.push(line),
                _ => backtrace.push(BacktraceBlock { in_app, frames: vec![line] }),
            }
        }
        Self {
            id: o.id.clone(),
            href_id: percent_encode(&o.id),
            time: TimeView::new(o.timestamp, now),
            host: o.host.clone(),
            pid: o.pid,
            thread: o.thread.clone(),
            release: o.release.clone(),
            message: o.message.clone(),
            sources: o.sources.clone(),
            panic: o.panic.as_ref().map(|p| PanicView {
                message: (p.message != o.message).then(|| p.message.clone()),
                location: p.location.clone(),
            }),
            request: o.request.as_ref().map(|r| RequestView {
                method: r.method.clone(),
                url: r.url.clone(),
                route: r.route.clone(),
                headers: r.headers.iter().map(|(n, v)| VarView { name: n.clone(), value: v.clone() }).collect(),
                query: r.query.iter().map(|(n, v)| VarView { name: n.clone(), value: v.clone() }).collect(),
                body: r.body.as_ref().map(show_value),
                client_addr: r.client_addr.clone(),
                custom: vars(&r.custom),
            }),
            frames: o
                .frames
                .iter()
                .map(|f| FrameView {
                    function: f.function.clone(),
                    location: location(f.file.as_deref(), f.line),
                    args: vars(&f.args),
                    locals: vars(&f.locals),
                    source: source_of(root, f.file.as_deref(), f.line),
                })
                .collect(),
            backtrace_len: o.backtrace.len(),
            backtrace,
            extra: vars(&o.extra),
            breadcrumbs: o
                .breadcrumbs
                .iter()
                .map(|b| {
                    let timestamp = b.timestamp.to_string();
                    BreadcrumbView {
                        time: timestamp.get(11..23).unwrap_or(&timestamp).to_owned(),
                        timestamp,
                        level_class: match b.level.as_str() {
                            "ERROR" => "error",
                            "WARN" => "warn",
                            "INFO" => "info",
                            "DEBUG" => "debug",
                            "TRACE" => "trace",
                            _ => "other",
                        },
                        level: b.level.clone(),
                        target: b.target.clone(),
                        message: b.message.clone(),
                        fields: vars(&b.fields),
                    }
                })
                .collect(),
            spans: o
                .spans
                .iter()
                .map(|s| SpanView {
                    name: s.name.clone(),
                    target: s.target.clone(),
                    text: s.to_string(),
                    fields: vars(&s.fields),
                })
                .collect(),
            error_backtrace: o
                .error_backtrace
                .iter()
                .enumerate()
                .map(|(index, f)| BacktraceLine {
                    index,
                    function: f.function.clone(),
                    location: location(f.file.as_deref(), f.line),
                    source: None,
                })
                .collect(),
        }
    }
}

/// One row of the occurrence history.
#[derive(Serialize)]
pub(crate) struct HistoryRow {
    pub id: String,
    pub href_id: String,
    pub time: TimeView,
    pub host: String,
    pub thread: Option<String>,
    pub release: Option<String>,
    pub request: Option<String>,
    pub message: String,
}

impl HistoryRow {
    pub fn new(o: &Occurrence, now: Timestamp) -> Self {
        Self {
            id: o.id.clone(),
            href_id: percent_encode(&o.id),
            time: TimeView::new(o.timestamp, now),
            host: o.host.clone(),
            thread: o.thread.clone(),
            release: o.release.clone(),
            request: o.request.as_ref().map(|r| format!("{} {}", r.method, r.path)),
            message: cut(&o.message, MESSAGE_CUT),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pager_shows_ends_and_window() {
        let labels = |c, p, more| page_links(c, p, more, "").into_iter().map(|l| l.label).collect::<Vec<_>>().join(" ");
        assert_eq!(labels(1, 1, false), "1");
        assert_eq!(labels(1, 10, false), "1 2 3 … 10");
        assert_eq!(labels(6, 10, false), "1 … 4 5 6 7 8 … 10");
        assert_eq!(labels(10, 10, false), "1 … 8 9 10");
        assert!(page_links(2, 3, false, "&q=x")[0].href.as_deref() == Some("?page=1&q=x"));
        // An inexact total: no last page, a gap after the window.
        assert_eq!(labels(1, 1000, true), "1 2 3 …");
        assert_eq!(labels(20, 1000, true), "1 … 18 19 20 21 22 …");
        assert_eq!(labels(1000, 1001, true), "1 … 998 999 1000 1001 …");
    }

    #[test]
    fn pager_has_first_prev_next_last() {
        let p = pager(1, 3, false, "&q=x");
        assert_eq!((p.first, p.prev), (None, None));
        assert_eq!((p.next.as_deref(), p.last.as_deref()), (Some("?page=2&q=x"), Some("?page=3&q=x")));
        let p = pager(3, 3, false, "");
        assert_eq!(
            (p.first.as_deref(), p.prev.as_deref(), p.next, p.last),
            (Some("?page=1"), Some("?page=2"), None, None)
        );
        // The store stopped counting: a next page, no last one.
        let p = pager(4, 4, true, "");
        assert_eq!((p.next.as_deref(), p.last), (Some("?page=5"), None));
    }

    #[test]
    fn says_how_long_ago() {
        let now = Timestamp::from_micros(1_000_000_000 * 1_000_000);
        let before = |secs: i64| ago(Timestamp::from_micros(now.as_micros() - secs * 1_000_000), now);
        assert_eq!(before(3), "just now");
        assert_eq!(before(60), "1 minute ago");
        assert_eq!(before(3 * 60 + 20), "3 minutes ago");
        assert_eq!(before(2 * 3600), "2 hours ago");
        assert_eq!(before(30 * 3600), "yesterday");
        assert_eq!(before(5 * 86_400), "5 days ago");
        assert_eq!(before(70 * 86_400), "2 months ago");
        assert_eq!(before(800 * 86_400), "2 years ago");
        assert_eq!(before(-100), "in the future");
        let t = TimeView::new(now, now);
        assert_eq!((t.utc.as_str(), t.iso.as_str()), ("2001-09-09 01:46:40 UTC", "2001-09-09T01:46:40.000000Z"));
    }

    #[test]
    fn cuts_on_characters() {
        assert_eq!(cut("héllo", 2), "hé…");
        assert_eq!(cut("hé", 2), "hé");
    }
}
