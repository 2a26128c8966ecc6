//! `name: value` and `name=value` pairs in free text (messages, `Display`
//! and `Debug` renderings, header values), where the name is secret.
//!
//! The name is found by a regex built from the folded secret names, each
//! allowing one separator (`-`, `_`, `.`, a space) between its letters, so
//! that `X-Api-Key:`, `apiKey=` and `"API_KEY":` are all found. The value is
//! then measured by hand, because its end depends on what it is:
//! - quoted (`"…"`, `'…'`, or `\"…\"` inside a `Debug` string): to the
//!   closing quote;
//! - a compound (`Creds { user: "bob", key: "…" }`, `[…]`, `(…)`): to its
//!   closing bracket, whole;
//! - otherwise, unquoted and possibly with spaces (`password: correct horse
//!   battery`): to the end of the line, or to the first `,` `;` `&`, closing
//!   bracket or closing quote, or to the next ` name:` / ` name=` field.
//!
//! `auth::login` (a path) and `oauth://host` (a URL) are not pairs.

use regex::Regex;

/// The regex that finds a secret name and its separator; the match ends
/// where the value starts. `None` without names.
pub(super) fn name_pattern(folded: &[Vec<u8>]) -> Option<Regex> {
    if folded.is_empty() {
        return None;
    }
    let alts: Vec<String> = folded
        .iter()
        .map(|k| {
            String::from_utf8_lossy(k)
                .chars()
                .map(|c| regex::escape(&c.to_string()))
                .collect::<Vec<_>>()
                .join("[-_. ]?")
        })
        .collect();
    let pattern = format!(r#"(?i)(?:{})[A-Za-z0-9_.-]*(?:\\?["'])?[ \t]*[=:][ \t]*"#, alts.join("|"));
    Some(Regex::new(&pattern).expect("masked key pattern is valid"))
}

/// Masks the values of the secret pairs in `text`; `None` when none changed.
pub(super) fn mask_pairs(re: &Regex, text: &str, mask: &str) -> Option<String> {
    // Every pair has a `:` or `=`: most strings (paths, user agents, plain
    // values) have neither and skip the regex.
    if !text.bytes().any(|b| b == b':' || b == b'=') {
        return None;
    }
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut pos = 0;
    while pos <= text.len() {
        let Some(m) = re.find_at(text, pos) else { break };
        let start = m.end();
        let rest = &text[start..];
        let colon = text[..start].trim_end().ends_with(':');
        if colon && (rest.starts_with(':') || rest.starts_with("//")) {
            pos = start;
            continue;
        }
        let end = value_end(text.as_bytes(), start);
        // A quoted value keeps its quotes: `"key": "***"` stays JSON-like.
        let value = &text[start..end];
        let quote = ["\\\"", "\"", "'"]
            .into_iter()
            .find(|q| value.len() >= 2 * q.len() && value.starts_with(q) && value.ends_with(q));
        let inner = quote.map_or(value, |q| &value[q.len()..value.len() - q.len()]);
        if !inner.is_empty() && inner != mask {
            let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
            o.push_str(&text[copied..start]);
            let q = quote.unwrap_or("");
            o.push_str(q);
            o.push_str(mask);
            o.push_str(q);
            copied = end;
        }
        pos = end.max(start + 1);
        // Stay on a char boundary.
        while pos < text.len() && !text.is_char_boundary(pos) {
            pos += 1;
        }
    }
    out.map(|mut o| {
        o.push_str(&text[copied..]);
        o
    })
}

/// The index just past the quoted literal starting at `start`.
fn skip_quoted(b: &[u8], start: usize, quote: u8) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// Where the value starting at `start` ends (see the module docs).
fn value_end(b: &[u8], start: usize) -> usize {
    let Some(&first) = b.get(start) else { return start };
    if b[start..].starts_with(b"\\\"") {
        // A quoted value inside a `Debug` string: to the next `\"`.
        let mut i = start + 2;
        while i + 1 < b.len() {
            if b[i] == b'\\' && b[i + 1] == b'"' {
                return i + 2;
            }
            i += 1;
        }
        return b.len();
    }
    if first == b'"' || first == b'\'' {
        return skip_quoted(b, start, first);
    }
    let mut depth = 0usize;
    let mut i = start;
    while i < b.len() {
        match b[i] {
            b'"' if depth > 0 => {
                i = skip_quoted(b, i, b'"');
                continue;
            }
            // At depth 0 a quote closes the string the pair is in.
            b'"' => break,
            b'{' | b'[' | b'(' => depth += 1,
            b'}' | b']' | b')' => {
                if depth == 0 {
                    break;
                }
                depth -= 1;
            }
            b',' | b';' | b'&' | b'\n' | b'\r' if depth == 0 => break,
            // An escape of a `Debug` string: `\n`, `\r`, `\t`, `\"`.
            b'\\' if depth == 0 && matches!(b.get(i + 1), Some(b'n' | b'r' | b't' | b'"')) => break,
            b' ' | b'\t' if depth == 0 && next_field_at(b, i) => break,
            _ => {}
        }
        i += 1;
    }
    while i > start && matches!(b[i - 1], b' ' | b'\t') {
        i -= 1;
    }
    i
}

/// Whether the blanks at `i` are followed by another `name:` or `name=` field.
fn next_field_at(b: &[u8], mut i: usize) -> bool {
    while i < b.len() && matches!(b[i], b' ' | b'\t') {
        i += 1;
    }
    let name_start = i;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'.' | b'-')) {
        i += 1;
    }
    if i == name_start {
        return false;
    }
    while i < b.len() && b[i] == b' ' {
        i += 1;
    }
    match b.get(i) {
        Some(b'=') => true,
        Some(b':') => !matches!(b.get(i + 1), Some(b':' | b'/')),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use crate::mask::{DefaultMasking, Masking};

    fn masked(text: &str) -> String {
        DefaultMasking::new(
            vec!["password".into(), "api_key".into(), "secret".into(), "credential".into()],
            "***".into(),
        )
        .mask_text(text)
        .into_owned()
    }

    #[test]
    fn names_in_every_style_in_free_text() {
        for (text, want) in [
            ("sent header X-Api-Key: AAA111", "sent header X-Api-Key: ***"),
            ("?user=bob&Api-Key=BBB222&page=2", "?user=bob&Api-Key=***&page=2"),
            (r#"{"privateApiKey":"EEE555","a":1}"#, r#"{"privateApiKey":"***","a":1}"#),
            ("apiKey=x1 API_KEY=x2 api.key=x3\napi key: x4", "apiKey=*** API_KEY=*** api.key=***\napi key: ***"),
            ("clientSecret: 'sss', next", "clientSecret: '***', next"),
        ] {
            assert_eq!(masked(text), want, "{text}");
        }
    }

    #[test]
    fn compound_quoted_and_spaced_values() {
        for (text, want) in [
            (
                r#"failed with credentials: Creds { user: "bob", key: "GGG777" }, retry 3"#,
                "failed with credentials: ***, retry 3",
            ),
            (
                r#"Upstream { body: "{\"client_secret\": \"HHH888\"}" }"#,
                r#"Upstream { body: "{\"client_secret\": \"***\"}" }"#,
            ),
            ("password: correct horse_DDD444 battery", "password: ***"),
            ("password: correct horse battery user: bob", "password: *** user: bob"),
            ("password=hunter2 user=bob", "password=*** user=bob"),
            ("password: [1, 2, 3] and more\nnext line", "password: ***\nnext line"),
            (r#"Debug "password=abc", user: "bob""#, r#"Debug "password=***", user: "bob""#),
            (r#""text: password: x\nline two""#, r#""text: password: ***\nline two""#),
        ] {
            assert_eq!(masked(text), want, "{text}");
        }
    }

    #[test]
    fn paths_urls_and_masked_values_stay() {
        for text in [
            "in secret::store::load",
            "see oauth://provider/callback",
            "password: ***",
            "no pairs here",
            "a password alone",
            "password:",
        ] {
            assert_eq!(masked(text), text, "{text}");
        }
    }
}
