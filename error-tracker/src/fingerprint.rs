//! The group key of an occurrence.
//!
//! The default fingerprint is the exception name plus the names of the
//! in-app frames: no addresses, no line numbers, no message, so it stays the
//! same across runs, rebuilds and line shifts. With no in-app frame, the
//! message is used instead, with its numbers, hex and UUIDs replaced.
//!
//! [`fold_key`] is the same identity taken before the stack is symbolized,
//! for what counts occurrences without fingerprinting each one.

use std::hash::{Hash, Hasher};
use std::sync::LazyLock;

use regex::Regex;

use crate::occurrence::Occurrence;

/// The default fingerprint (40 hex digits).
///
/// ```
/// # use error_tracker::{Occurrence, StackFrame};
/// # fn occurrence(line: u32, message: &str) -> Occurrence {
/// #     let mut o: Occurrence = serde_json::from_value(serde_json::json!({
/// #         "id": "0", "exception_name": "std::io::Error", "message": message, "thread": null,
/// #         "timestamp": "2026-01-01T00:00:00Z", "host": "h", "pid": 1, "release": null,
/// #         "panic": null, "request": null })).unwrap();
/// #     o.backtrace = vec![StackFrame { function: "app::load".into(), file: Some("src/lib.rs".into()), line: Some(line), in_app: true }];
/// #     o
/// # }
/// // The same error at a shifted line, with another message: one group.
/// assert_eq!(
///     error_tracker::default_fingerprint(&occurrence(10, "file 1 missing")),
///     error_tracker::default_fingerprint(&occurrence(12, "file 2 missing")),
/// );
/// ```
pub fn default_fingerprint(o: &Occurrence) -> String {
    let mut h = sha1_smol::Sha1::new();
    h.update(o.exception_name.as_bytes());
    let mut in_app = o.backtrace.iter().filter(|f| f.in_app).peekable();
    if in_app.peek().is_some() {
        for f in in_app {
            h.update(b"\n");
            h.update(f.function.as_bytes());
        }
    } else {
        h.update(b"\nmessage:");
        for_each_normalized(&o.message, |piece| h.update(piece.as_bytes()));
    }
    h.digest().to_string()
}

/// A key for counting occurrences together before their stacks are
/// symbolized: two occurrences with one key get one default fingerprint.
///
/// The default fingerprint is the exception name plus either the in-app
/// frames of the stack, which the raw stack `ips` decides, or, when it has
/// none, the normalized message. Which of the two is known only once the
/// stack is symbolized, so with `Some(message)` the key holds all three: it
/// may keep apart what is one group (messages of one in-app stack that
/// differ in words), which costs a key, but never joins two groups. Pass
/// `None` only where the stack is known to decide the group.
///
/// A [custom fingerprint](crate::Config::fingerprint) may look at anything,
/// the extras or the request included: the occurrences folded under one key
/// are fingerprinted as the first of them.
pub(crate) fn fold_key(exception_name: &str, ips: &[usize], message: Option<&str>) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    exception_name.hash(&mut h);
    ips.hash(&mut h);
    if let Some(m) = message {
        for_each_normalized(m, |piece| h.write(piece.as_bytes()));
    }
    h.finish()
}

static VOLATILE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|0x[0-9a-f]+|\b[0-9a-f]{12,}\b|\d+")
        .expect("valid pattern")
});

/// The message with UUIDs, hex and numbers replaced by `<id>`, `<hex>`, `<n>`.
#[cfg(test)]
fn normalize_message(m: &str) -> String {
    let mut out = String::with_capacity(m.len());
    for_each_normalized(m, |piece| out.push_str(piece));
    out
}

/// Hands `out` the normalized message in pieces, in order (their
/// concatenation is the normalized message), without building it: the
/// fingerprint and the fold key hash it as it comes.
fn for_each_normalized(m: &str, mut out: impl FnMut(&str)) {
    let mut last = 0;
    for found in VOLATILE.find_iter(m) {
        out(&m[last..found.start()]);
        let s = found.as_str();
        out(if s.len() == 36 && s.contains('-') {
            "<id>"
        } else if s.bytes().all(|c| c.is_ascii_digit()) {
            "<n>"
        } else {
            "<hex>"
        });
        last = found.end();
    }
    out(&m[last..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_volatile_parts() {
        assert_eq!(
            normalize_message("user 42 at 0xdeadbeef req 123e4567-e89b-12d3-a456-426614174000 sha 0123456789abcdef"),
            "user <n> at <hex> req <id> sha <hex>"
        );
    }

    fn message_only(name: &str, message: &str) -> Occurrence {
        crate::capture::base_occurrence(name.to_owned(), message.to_owned())
    }

    #[test]
    fn a_message_only_fingerprint_hashes_the_normalized_message() {
        let mut h = sha1_smol::Sha1::new();
        h.update(b"E\nmessage:user <n> at <hex> gone");
        assert_eq!(default_fingerprint(&message_only("E", "user 42 at 0xbeef gone")), h.digest().to_string());
    }

    #[test]
    fn the_fold_key_never_joins_what_the_fingerprint_separates() {
        let ips = [1, 2, 3];
        let key = |name: &str, m: &str| fold_key(name, &ips, Some(m));
        let fp = |name: &str, m: &str| default_fingerprint(&message_only(name, m));
        // One group, one key.
        assert_eq!(fp("E", "user 1 gone"), fp("E", "user 2 gone"));
        assert_eq!(key("E", "user 1 gone"), key("E", "user 2 gone"));
        // Two groups of one stack (no in-app frame), two keys.
        assert_ne!(fp("E", "user gone"), fp("E", "order gone"));
        assert_ne!(key("E", "user gone"), key("E", "order gone"));
        assert_ne!(key("E", "gone"), key("F", "gone"));
        assert_ne!(fold_key("E", &ips, Some("gone")), fold_key("E", &[1, 2], Some("gone")));
        // Where the stack decides, the message is left out.
        assert_eq!(fold_key("E", &ips, None), fold_key("E", &ips, None));
        assert_ne!(fold_key("E", &ips, None), fold_key("E", &[1, 2], None));
    }
}
