//! The group key of an occurrence.
//!
//! The default fingerprint is the exception name plus the names of the
//! in-app frames: no addresses, no line numbers, no message, so it stays the
//! same across runs, rebuilds and line shifts. With no in-app frame, the
//! message is used instead, with its numbers, hex and UUIDs replaced.

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
        h.update(normalize_message(&o.message).as_bytes());
    }
    h.digest().to_string()
}

static VOLATILE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|0x[0-9a-f]+|\b[0-9a-f]{12,}\b|\d+")
        .expect("valid pattern")
});

/// The message with UUIDs, hex and numbers replaced by `<id>`, `<hex>`, `<n>`.
pub(crate) fn normalize_message(m: &str) -> String {
    VOLATILE
        .replace_all(m, |c: &regex::Captures| {
            let s = &c[0];
            if s.len() == 36 && s.contains('-') {
                "<id>"
            } else if s.chars().all(|c| c.is_ascii_digit()) {
                "<n>"
            } else {
                "<hex>"
            }
        })
        .into_owned()
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
}
