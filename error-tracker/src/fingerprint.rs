//! The group key of an occurrence.
//!
//! The default fingerprint is the exception name plus where the occurrence
//! was captured, as the compiler saw it: the `record_exception!` call or the
//! panic's location ([`CaptureSite`](crate::CaptureSite)), else the innermost tracked function
//! it went through, at the line it failed. Lines count from the function's
//! `fn`, so the key stays the same across runs, rebuilds, build profiles
//! (stripped or not: nothing comes from debug info) and code added above
//! the function; two calls in one function are two groups. No message, no
//! address. (A panic's line counts from the top of its file: the panic hook
//! knows only its location. A panic moved by code added above it starts a
//! new group.)
//!
//! An occurrence with none of that (one built by hand, or recorded by an
//! integration) falls back to the names of its in-app frames, else to its
//! message with its numbers, hex and UUIDs replaced.
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
/// # use error_tracker::{CaptureSite, Occurrence};
/// # fn occurrence(line: u32, function_line: u32, message: &str) -> Occurrence {
/// #     let mut o: Occurrence = serde_json::from_value(serde_json::json!({
/// #         "id": "0", "exception_name": "std::io::Error", "message": message, "thread": null,
/// #         "timestamp": "2026-01-01T00:00:00Z", "host": "h", "pid": 1, "release": null,
/// #         "panic": null, "request": null })).unwrap();
/// #     o.site = Some(CaptureSite { function: "app::load".into(), file: "src/lib.rs".into(), line, column: 9,
/// #         function_line: Some(function_line) });
/// #     o
/// # }
/// // The same call, shifted by code added above its function, with another message: one group.
/// assert_eq!(
///     error_tracker::default_fingerprint(&occurrence(10, 4, "file 1 missing")),
///     error_tracker::default_fingerprint(&occurrence(12, 6, "file 2 missing")),
/// );
/// // Another call in the same function: another group.
/// assert_ne!(
///     error_tracker::default_fingerprint(&occurrence(10, 4, "file 1 missing")),
///     error_tracker::default_fingerprint(&occurrence(11, 4, "file 1 missing")),
/// );
/// ```
pub fn default_fingerprint(o: &Occurrence) -> String {
    let mut h = sha1_smol::Sha1::new();
    if static_identity(o, |bytes| h.update(bytes)) {
        return h.digest().to_string();
    }
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

/// Hands `out` where the compiler saw the occurrence captured (see the
/// module docs), and returns whether it knew: then that alone is the group,
/// known on the failing thread before anything is symbolized, in every
/// build profile. The capture point is the `record_exception!` call or the
/// panic's location, else the innermost tracked frame at the line it failed:
/// outer tracked frames are added to an occurrence after it is submitted,
/// so they do not decide its group.
fn static_identity(o: &Occurrence, mut out: impl FnMut(&[u8])) -> bool {
    if let Some(site) = &o.site {
        out(o.exception_name.as_bytes());
        out(format!("\nat {} {} {}:{}", site.function, site.file, site.line_in_function(), site.column).as_bytes());
        return true;
    }
    if let Some(f) = o.frames.first() {
        let line = match (f.line, f.function_line) {
            (Some(line), Some(start)) if start <= line => line - start,
            _ => 0,
        };
        out(o.exception_name.as_bytes());
        out(format!("\nin {} {} +{line}", f.function, f.file.as_deref().unwrap_or("")).as_bytes());
        return true;
    }
    false
}

/// A key for counting occurrences together before their stacks are
/// symbolized: two occurrences with one key get one default fingerprint.
///
/// Where the compiler's sites decide the group, the key is that identity:
/// exact, and known without the stack. Else the default fingerprint is the
/// exception name plus either the in-app frames of the stack, which the
/// raw stack `ips` decides, or, when it has none, the normalized message.
/// Which of the two is known only once the stack is symbolized, so with
/// `with_message` the key holds all three: it may keep apart what is one
/// group (messages of one in-app stack that differ in words), which costs a
/// key, but never joins two groups. Leave the message out only where the
/// stack is known to decide the group.
///
/// A [custom fingerprint](crate::Config::fingerprint) may look at anything,
/// the extras or the request included: the occurrences folded under one key
/// are fingerprinted as the first of them.
pub(crate) fn fold_key(o: &Occurrence, ips: &[usize], with_message: bool) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    if static_identity(o, |bytes| h.write(bytes)) {
        return h.finish();
    }
    o.exception_name.hash(&mut h);
    ips.hash(&mut h);
    if with_message {
        for_each_normalized(&o.message, |piece| h.write(piece.as_bytes()));
    }
    h.finish()
}

/// Whether the compiler's sites decide the occurrence's default group.
pub(crate) fn sites_decide(o: &Occurrence) -> bool {
    o.site.is_some() || !o.frames.is_empty()
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
    use crate::occurrence::CaptureSite;

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
        let fold = |name: &str, m: &str, ips: &[usize], with_message: bool| {
            fold_key(&message_only(name, m), ips, with_message)
        };
        let key = |name: &str, m: &str| fold(name, m, &ips, true);
        let fp = |name: &str, m: &str| default_fingerprint(&message_only(name, m));
        // One group, one key.
        assert_eq!(fp("E", "user 1 gone"), fp("E", "user 2 gone"));
        assert_eq!(key("E", "user 1 gone"), key("E", "user 2 gone"));
        // Two groups of one stack (no in-app frame), two keys.
        assert_ne!(fp("E", "user gone"), fp("E", "order gone"));
        assert_ne!(key("E", "user gone"), key("E", "order gone"));
        assert_ne!(key("E", "gone"), key("F", "gone"));
        assert_ne!(fold("E", "gone", &ips, true), fold("E", "gone", &[1, 2], true));
        // Where the stack decides, the message is left out.
        assert_eq!(fold("E", "a", &ips, false), fold("E", "b", &ips, false));
        assert_ne!(fold("E", "a", &ips, false), fold("E", "a", &[1, 2], false));
    }

    fn at(function: &str, line: u32, function_line: u32) -> Occurrence {
        let mut o = message_only("E", "gone 1");
        o.site = Some(CaptureSite {
            function: function.to_owned(),
            file: "src/lib.rs".to_owned(),
            line,
            column: 5,
            function_line: Some(function_line),
        });
        o
    }

    #[test]
    fn sites_decide_the_group_and_the_fold_key_without_the_stack() {
        let (a, shifted, other_line, other_fn) =
            (at("app::f", 10, 4), at("app::f", 30, 24), at("app::f", 11, 4), at("app::g", 10, 4));
        assert_eq!(default_fingerprint(&a), default_fingerprint(&shifted));
        assert_ne!(default_fingerprint(&a), default_fingerprint(&other_line));
        assert_ne!(default_fingerprint(&a), default_fingerprint(&other_fn));
        let mut other_message = a.clone();
        other_message.message = "another text".to_owned();
        assert_eq!(default_fingerprint(&a), default_fingerprint(&other_message));
        // The fold key: one per group, whatever the stack.
        assert_eq!(fold_key(&a, &[1, 2], true), fold_key(&shifted, &[7], true));
        assert_eq!(fold_key(&a, &[1], true), fold_key(&other_message, &[1], false));
        assert_ne!(fold_key(&a, &[1], true), fold_key(&other_line, &[1], true));
    }
}
