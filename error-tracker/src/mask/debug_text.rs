//! Masking of `Debug` text: the fallback for values without `Serialize`.
//!
//! `Debug` output of structs and maps has the forms `name: value` and
//! `"key": value`. This scanner finds the pairs whose name is secret and
//! replaces the whole value (a string, a number, a nested struct) by the mask.
//! A tuple struct or newtype whose type name is secret (`ApiToken("…")`) has
//! its contents masked too.

use std::borrow::Cow;

use super::Masking;

/// Masks the values of secret `name: value` and `"key": value` pairs in
/// `Debug` text, at any depth.
///
/// ```
/// use error_tracker::{DefaultMasking, mask_debug_text};
/// let text = r#"Login { user: "bob", password: "hunter2", extra: {"api_key": Key(7)} }"#;
/// assert_eq!(
///     mask_debug_text(&DefaultMasking::default(), text),
///     r#"Login { user: "bob", password: **************, extra: {"api_key": **************} }"#
/// );
/// ```
pub fn mask_debug_text<'a>(m: &dyn Masking, text: &'a str) -> Cow<'a, str> {
    let b = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0; // text[..copied] is in `out` (when `out` is Some)
    let mut i = 0;
    while i < b.len() {
        let (key, key_end, ident) = match b[i] {
            b'"' => {
                let end = skip_quoted(b, i, b'"');
                (&text[i + 1..end.saturating_sub(1).max(i + 1)], end, false)
            }
            c if is_ident_start(c) && (i == 0 || !is_ident_char(b[i - 1])) => {
                let mut end = i + 1;
                while end < b.len() && is_ident_char(b[end]) {
                    end += 1;
                }
                (&text[i..end], end, true)
            }
            b'\'' => {
                i = skip_quoted(b, i, b'\'');
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        };
        if b.get(key_end) == Some(&b':') && b.get(key_end + 1) == Some(&b' ') && m.is_secret_key(key) {
            let value_start = key_end + 2;
            let value_end = skip_value(b, value_start);
            let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
            o.push_str(&text[copied..value_start]);
            o.push_str(m.mask());
            copied = value_end;
            i = value_end;
        } else if ident && b.get(key_end) == Some(&b'(') && m.is_secret_key(key) {
            // `ApiToken("…")`: a newtype named like a secret.
            let value_start = key_end + 1;
            let value_end = closing_paren(b, value_start);
            let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
            o.push_str(&text[copied..value_start]);
            o.push_str(m.mask());
            copied = value_end;
            i = value_end;
        } else {
            i = key_end;
        }
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut o) => {
            o.push_str(&text[copied..]);
            Cow::Owned(o)
        }
    }
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
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

/// The index just past the value starting at `start`: up to the next `,` or
/// closing bracket at depth 0, skipping strings and nested brackets.
fn skip_value(b: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i = skip_quoted(b, i, b'"');
                continue;
            }
            b'{' | b'[' | b'(' => depth += 1,
            b'}' | b']' | b')' => {
                if depth == 0 {
                    return trim_end(b, start, i);
                }
                depth -= 1;
            }
            b',' if depth == 0 => return i,
            _ => {}
        }
        i += 1;
    }
    b.len()
}

/// The index of the `)` closing the parenthesis opened before `start`
/// (skipping strings and nested brackets), or the end of the text.
fn closing_paren(b: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i = skip_quoted(b, i, b'"');
                continue;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                if depth == 0 {
                    return i;
                }
                depth -= 1;
            }
            _ => {}
        }
        i += 1;
    }
    b.len()
}

fn trim_end(b: &[u8], start: usize, mut end: usize) -> usize {
    while end > start && b[end - 1] == b' ' {
        end -= 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::DefaultMasking;

    #[derive(Debug)]
    #[allow(dead_code)]
    struct Db {
        url: &'static str,
        password: &'static str,
        creds: Creds,
        tokens: Vec<(u8, &'static str)>,
    }
    #[derive(Debug)]
    #[allow(dead_code)]
    struct Creds {
        secret: Option<&'static str>,
        note: &'static str,
    }

    #[test]
    fn masks_struct_fields_and_map_keys_at_any_depth() {
        let m = DefaultMasking::default();
        let db = Db {
            url: "db, \"quoted\" password: x",
            password: "p, w}",
            creds: Creds { secret: Some("s"), note: "n" },
            tokens: vec![(1, "t")],
        };
        let text = format!("{db:?}");
        let masked = mask_debug_text(&m, &text);
        assert!(!masked.contains("p, w}") && !masked.contains("\"s\"") && !masked.contains("\"t\""), "{masked}");
        assert!(masked.contains(r#"note: "n""#) && masked.contains("password: x"), "{masked}");
        let map: std::collections::BTreeMap<&str, u32> = [("db_pwd", 1234), ("port", 5432)].into();
        assert_eq!(mask_debug_text(&m, &format!("{map:?}")), r#"{"db_pwd": **************, "port": 5432}"#);
    }

    #[derive(Debug)]
    #[allow(dead_code)]
    struct ApiToken(String);
    #[derive(Debug)]
    #[allow(dead_code, non_snake_case)]
    struct Holder {
        name: &'static str,
        privateKey: &'static str,
        credentials: Creds,
        tok: ApiToken,
        ids: Vec<u32>,
    }

    #[test]
    fn camel_case_names_compound_values_and_secret_newtypes() {
        let m = DefaultMasking::default();
        let h = Holder {
            name: "n",
            privateKey: "EEE555",
            credentials: Creds { secret: None, note: "GGG777" },
            tok: ApiToken("TTT999".into()),
            ids: vec![1, 2],
        };
        for text in [format!("{h:?}"), format!("{h:#?}")] {
            let masked = mask_debug_text(&m, &text);
            for leak in ["EEE555", "GGG777", "TTT999"] {
                assert!(!masked.contains(leak), "{leak} in {masked}");
            }
            assert!(masked.contains("ApiToken(**************)") && masked.contains("\"n\""), "{masked}");
        }
        assert_eq!(mask_debug_text(&m, r#"Some(ApiToken("x"))"#), "Some(ApiToken(**************))");
        assert_eq!(mask_debug_text(&m, r#"Some("x")"#), r#"Some("x")"#);
    }
}
