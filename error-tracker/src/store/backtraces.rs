//! Backtraces stored once per group: the content key of a backtrace, and
//! the distinct backtraces of a batch, shared by the SQL stores.
//!
//! Most occurrences of a group share their backtrace (~3 KB of JSON for 20
//! frames), so the table `backtraces` keeps each distinct one once per group,
//! under `(hash, backtrace_key)`, and an occurrence row holds the key. The key
//! is a content hash, the same in every process and run, so a fleet writing
//! one database agrees on it and inserts with "do nothing on conflict".
//!
//! Rows are scoped per group so that deleting a group cascades to its
//! backtraces; the trim of a group's oldest occurrences reports the keys it
//! removed, and the store deletes those no occurrence of the group still
//! holds (see [`BatchBacktraces::is_fresh`]).

use std::collections::{HashMap, HashSet};

use super::{Grouped, StoreError};
use crate::occurrence::StackFrame;

/// How many of a group's distinct backtraces in a batch are compared with a
/// new one before hashing it: comparing is much cheaper than hashing, and a
/// group rarely has more than one or two.
const COMPARED: usize = 4;

/// The key of a backtrace: the first 64 bits, big-endian, of the SHA-1 of
/// its frames' fields (strings length-prefixed, options tagged), without
/// serializing them.
///
/// It depends only on the frames, never on the process, the run, the build
/// or the JSON encoding, and it is only ever compared within one group, where
/// a 64-bit collision is out of reach.
pub(crate) fn backtrace_key(frames: &[StackFrame]) -> i64 {
    fn put(h: &mut sha1_smol::Sha1, bytes: &[u8]) {
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    fn put_opt(h: &mut sha1_smol::Sha1, bytes: Option<&[u8]>) {
        match bytes {
            Some(b) => {
                h.update(&[1]);
                put(h, b);
            }
            None => h.update(&[0]),
        }
    }
    let mut h = sha1_smol::Sha1::new();
    put(&mut h, b"error-tracker backtrace v1");
    for f in frames {
        put(&mut h, f.function.as_bytes());
        put_opt(&mut h, f.file.as_deref().map(str::as_bytes));
        put_opt(&mut h, f.line.map(u32::to_le_bytes).as_ref().map(|l| l.as_slice()));
        h.update(&[u8::from(f.in_app)]);
    }
    let digest = h.digest().bytes();
    i64::from_be_bytes(digest[..8].try_into().expect("a SHA-1 digest has 20 bytes"))
}

/// An occurrence row whose backtrace row is gone: the store lost track of
/// one, which the trim and the cascades are there to prevent.
pub(crate) fn missing_backtrace(event_id: &str) -> StoreError {
    StoreError::Corrupt(format!("the backtrace of occurrence {event_id} is missing").into())
}

/// The backtraces of the occurrences a batch stores.
pub(crate) struct BatchBacktraces<'a> {
    /// The key of each stored occurrence, in the order they were given.
    pub(crate) keys: Vec<i64>,
    /// Each distinct `(group, key)` once, with its frames, in first-seen order.
    pub(crate) distinct: Vec<(&'a str, i64, &'a [StackFrame])>,
    fresh: HashSet<(&'a str, i64)>,
}

impl<'a> BatchBacktraces<'a> {
    /// Keys the backtraces of `stored`, hashing each distinct backtrace of a
    /// group once per batch.
    pub(crate) fn new(stored: impl IntoIterator<Item = &'a Grouped>) -> Self {
        let mut keys = Vec::new();
        let mut distinct: Vec<(&'a str, i64, &'a [StackFrame])> = Vec::new();
        let mut fresh = HashSet::new();
        // Per group, the indexes in `distinct` of its backtraces, newest last.
        let mut of_group: HashMap<&'a str, Vec<usize>> = HashMap::new();
        for g in stored {
            let frames = g.occurrence.backtrace.as_slice();
            let seen = of_group.entry(g.hash.as_str()).or_default();
            let same = seen.iter().rev().take(COMPARED).find(|&&i| distinct[i].2 == frames);
            let key = match same {
                Some(&i) => distinct[i].1,
                None => {
                    let key = backtrace_key(frames);
                    if fresh.insert((g.hash.as_str(), key)) {
                        seen.push(distinct.len());
                        distinct.push((g.hash.as_str(), key, frames));
                    }
                    key
                }
            };
            keys.push(key);
        }
        BatchBacktraces { keys, distinct, fresh }
    }

    /// Whether the batch stores an occurrence of `group` with backtrace
    /// `key`. Such a backtrace outlives the batch's trim (the trim keeps the
    /// newest occurrences, and a batch stores at most the cap of a group),
    /// so a trimmed key that is fresh needs no check for orphans.
    pub(crate) fn is_fresh(&self, group: &str, key: i64) -> bool {
        self.fresh.contains(&(group, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::occurrence::Occurrence;
    use crate::timestamp::Timestamp;

    fn frame(function: &str, file: Option<&str>, line: Option<u32>, in_app: bool) -> StackFrame {
        StackFrame { function: function.into(), file: file.map(Into::into), line, in_app }
    }

    #[test]
    fn the_key_is_stable_across_builds_and_runs() {
        // A fleet of processes, old and new, must agree on the key of a
        // backtrace: this value must never change.
        let frames = [frame("app::main", Some("src/main.rs"), Some(7), true), frame("std::rt", None, None, false)];
        assert_eq!(backtrace_key(&frames), backtrace_key(&frames.clone()));
        assert_eq!(backtrace_key(&frames), 0xac09_08ea_e03e_202c_u64 as i64);
    }

    #[test]
    fn every_field_is_in_the_key() {
        let base = frame("a::f", Some("src/a.rs"), Some(1), true);
        let variants = [
            vec![],
            vec![base.clone()],
            vec![base.clone(), base.clone()],
            vec![frame("a::g", Some("src/a.rs"), Some(1), true)],
            vec![frame("a::f", Some("src/b.rs"), Some(1), true)],
            vec![frame("a::f", None, Some(1), true)],
            vec![frame("a::f", Some(""), Some(1), true)],
            vec![frame("a::f", Some("src/a.rs"), Some(2), true)],
            vec![frame("a::f", Some("src/a.rs"), None, true)],
            vec![frame("a::f", Some("src/a.rs"), Some(1), false)],
            // Field boundaries are not ambiguous.
            vec![frame("a::fsrc/a.rs", Some(""), Some(1), true)],
        ];
        let keys: HashSet<i64> = variants.iter().map(|v| backtrace_key(v)).collect();
        assert_eq!(keys.len(), variants.len());
    }

    #[test]
    fn a_batch_keeps_each_backtrace_of_a_group_once() {
        let grouped = |hash: &str, frames: Vec<StackFrame>| Grouped {
            hash: hash.into(),
            occurrence: Occurrence {
                id: String::new(),
                exception_name: "E".into(),
                message: String::new(),
                sources: vec![],
                backtrace: frames,
                thread: None,
                timestamp: Timestamp::from_micros(0),
                host: String::new(),
                pid: 1,
                release: None,
                panic: None,
                frames: vec![],
                request: None,
                extra: vec![],
                site: None,
                breadcrumbs: Vec::new(),
                spans: Vec::new(),
                error_backtrace: Vec::new(),
            },
            times: 1,
            count_only: false,
        };
        let one = vec![frame("a::f", None, None, true)];
        let two = vec![frame("a::g", None, None, true)];
        let batch = [
            grouped("a", one.clone()),
            grouped("a", two.clone()),
            grouped("a", one.clone()),
            grouped("b", one.clone()),
            grouped("a", two.clone()),
        ];
        let b = BatchBacktraces::new(&batch);
        let (k1, k2) = (backtrace_key(&one), backtrace_key(&two));
        assert_eq!(b.keys, [k1, k2, k1, k1, k2]);
        let distinct: Vec<(&str, i64)> = b.distinct.iter().map(|(h, k, _)| (*h, *k)).collect();
        assert_eq!(distinct, [("a", k1), ("a", k2), ("b", k1)]);
        assert!(b.is_fresh("b", k1) && !b.is_fresh("b", k2));
    }
}
