//! Masking: the [`Masking`] trait, its default rules, and the renderers that
//! turn user values into masked JSON before they are stored.
//!
//! Two layers, one mechanism each:
//! - **key rules**, applied while a value is rendered on the failing thread:
//!   a struct field, map key, enum variant, argument, local or header whose
//!   name is secret is stored as the mask string and never rendered;
//! - **value rules**, applied on the writer thread to every string that is
//!   about to be stored: bearer tokens, card numbers, PEM private keys,
//!   URL passwords and `secret=value` pairs are masked wherever they appear.

use std::borrow::Cow;
use std::sync::LazyLock;

use crate::json::Value;
use regex::{Captures, Regex};

use crate::occurrence::{Occurrence, Variable};

mod debug_text;
pub(crate) mod render;

pub use debug_text::mask_debug_text;
pub(crate) use render::{render_debug, render_serialize, truncate_string};

/// Strings longer than this many characters are cut, with a marker.
pub const MAX_STRING_CHARS: usize = 10_000;
/// Collections longer than this are cut, with a marker.
pub const MAX_ITEMS: usize = 1_000;
/// Values nested deeper than this are cut, with a marker.
pub const MAX_DEPTH: usize = 32;
/// What a value whose `Debug` or `Serialize` impl panicked is stored as.
pub const RENDER_ERROR: &str = "<error while rendering>";

/// Masking rules: the seed's `MaskingMixin`.
///
/// The default, [`DefaultMasking`], is built from
/// [`Config::masked_keys`](crate::Config::masked_keys) and
/// [`Config::mask_with`](crate::Config::mask_with). A custom implementation,
/// set with [`Config::masking`](crate::Config::masking), replaces it; wrap a
/// `DefaultMasking` to extend it instead.
///
/// ```
/// use std::borrow::Cow;
/// use error_tracker::{DefaultMasking, Masking};
///
/// /// The default rules, plus: anything that looks like an IBAN is masked.
/// struct WithIban(DefaultMasking);
///
/// impl Masking for WithIban {
///     fn is_secret_key(&self, key: &str) -> bool {
///         self.0.is_secret_key(key) || key.eq_ignore_ascii_case("iban")
///     }
///     fn mask_text<'a>(&self, text: &'a str) -> Cow<'a, str> {
///         self.0.mask_text(text)
///     }
///     fn mask(&self) -> &str {
///         self.0.mask()
///     }
/// }
///
/// let m = WithIban(DefaultMasking::default());
/// assert!(m.is_secret_key("IBAN") && m.is_secret_key("user_password"));
/// assert_eq!(m.mask_text("sent Bearer abc.def"), "sent Bearer **************");
/// ```
pub trait Masking: Send + Sync + 'static {
    /// Whether a value stored under this name (field, key, argument, header)
    /// is secret and must be replaced by [`mask`](Self::mask).
    fn is_secret_key(&self, key: &str) -> bool;

    /// Masks the secrets found inside free text.
    fn mask_text<'a>(&self, text: &'a str) -> Cow<'a, str>;

    /// The string stored in place of a secret.
    fn mask(&self) -> &str;
}

/// The default rules: a name is secret when its lower-case form contains one
/// of the configured substrings; bearer and basic credentials, card numbers
/// (Luhn-checked), PEM private keys, URL passwords and `secret=value` pairs
/// are masked inside text.
#[derive(Debug, Clone)]
pub struct DefaultMasking {
    keys: Vec<String>,
    mask: String,
    pairs: Option<Regex>,
}

impl Default for DefaultMasking {
    fn default() -> Self {
        Self::new(
            crate::config::DEFAULT_MASKED_KEYS.iter().map(|s| (*s).to_owned()).collect(),
            crate::config::DEFAULT_MASK_WITH.to_owned(),
        )
    }
}

impl DefaultMasking {
    /// Rules from a list of key substrings (matched case-insensitively) and a mask string.
    pub fn new(keys: Vec<String>, mask: String) -> Self {
        let keys: Vec<String> = keys.into_iter().map(|k| k.to_lowercase()).filter(|k| !k.is_empty()).collect();
        // `name=value` / `name: value` pairs in free text, where the name holds a key.
        let pairs = (!keys.is_empty()).then(|| {
            let alts: Vec<String> = keys.iter().map(|k| regex::escape(k)).collect();
            Regex::new(&format!(
                r#"(?i)(["']?[\w.-]*(?:{})[\w.-]*["']?\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,&;)}}\]]+)"#,
                alts.join("|")
            ))
            .expect("masked key pattern is valid")
        });
        Self { keys, mask, pairs }
    }
}

impl Masking for DefaultMasking {
    fn is_secret_key(&self, key: &str) -> bool {
        contains_any_ignore_case(key, &self.keys)
    }

    fn mask_text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let out = mask_value_rules(text, &self.mask);
        match &self.pairs {
            Some(re) if re.is_match(&out) => {
                let replaced = re.replace_all(&out, |c: &Captures| format!("{}{}", &c[1], self.mask)).into_owned();
                Cow::Owned(replaced)
            }
            _ => out,
        }
    }

    fn mask(&self) -> &str {
        &self.mask
    }
}

/// Whether `hay`, lower-cased, contains any of the (lower-case) `needles`,
/// without allocating. `-` and `_` count as the same, so `X-Api-Key` holds `api_key`.
fn fold(b: u8) -> u8 {
    if b == b'-' { b'_' } else { b.to_ascii_lowercase() }
}

fn contains_any_ignore_case(hay: &str, needles: &[String]) -> bool {
    let hay = hay.as_bytes();
    needles.iter().any(|n| {
        let n = n.as_bytes();
        !n.is_empty()
            && hay.len() >= n.len()
            && hay.windows(n.len()).any(|w| w.iter().zip(n).all(|(a, b)| fold(*a) == fold(*b)))
    })
}

static VALUE_RULES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?P<pem>-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?s:.*?)(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\z))",
        r"|(?P<auth>(?i:\b(?:bearer|basic|token)\s+))(?P<cred>[A-Za-z0-9\-._~+/]{6,}=*)",
        r"|(?P<userinfo>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)(?P<pw>[^/\s@]+)@",
        r"|(?P<card>\b\d(?:[ -]?\d){12,18}\b)",
    ))
    .expect("value rules are valid")
});

/// Applies the value rules that do not depend on configuration.
fn mask_value_rules<'a>(text: &'a str, mask: &str) -> Cow<'a, str> {
    if !VALUE_RULES.is_match(text) {
        return Cow::Borrowed(text);
    }
    let mut changed = false;
    let out = VALUE_RULES.replace_all(text, |c: &Captures| {
        if c.name("pem").is_some() {
            changed = true;
            return format!("-----BEGIN PRIVATE KEY-----{mask}-----END PRIVATE KEY-----");
        }
        if let Some(auth) = c.name("auth") {
            changed = true;
            return format!("{}{mask}", auth.as_str());
        }
        if let Some(u) = c.name("userinfo") {
            changed = true;
            return format!("{}{mask}@", u.as_str());
        }
        let card = &c["card"];
        if luhn_valid(card) {
            changed = true;
            mask.to_owned()
        } else {
            card.to_owned()
        }
    });
    if changed { Cow::Owned(out.into_owned()) } else { Cow::Borrowed(text) }
}

/// The Luhn checksum of the digits in `s` (separators ignored).
pub(crate) fn luhn_valid(s: &str) -> bool {
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| if i % 2 == 1 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d })
        .sum();
    sum % 10 == 0
}

/// Masks the password in a URL's userinfo (`postgres://user:pw@host` → `postgres://user:****@host`).
pub fn mask_url_userinfo(url: &str) -> String {
    mask_value_rules(url, crate::config::DEFAULT_MASK_WITH).into_owned()
}

/// Applies the value rules of `m` to every string of a JSON value, in place.
pub(crate) fn mask_json_strings(m: &dyn Masking, v: &mut Value) {
    match v {
        Value::String(s) => mask_string(m, s),
        Value::Array(items) => items.iter_mut().for_each(|i| mask_json_strings(m, i)),
        Value::Object(map) => map.values_mut().for_each(|i| mask_json_strings(m, i)),
        _ => {}
    }
}

fn mask_string(m: &dyn Masking, s: &mut String) {
    if let Cow::Owned(masked) = m.mask_text(s) {
        *s = masked;
    }
}

fn mask_variables(m: &dyn Masking, vars: &mut [Variable]) {
    for v in vars {
        if m.is_secret_key(&v.name) {
            v.value = Value::String(m.mask().to_owned());
        } else {
            mask_json_strings(m, &mut v.value);
        }
    }
}

/// Applies the value rules (and the key rules, again, for names) to every
/// string of an occurrence. Runs on the writer thread, before anything is
/// stored or sent.
pub(crate) fn scrub_occurrence(m: &dyn Masking, o: &mut Occurrence) {
    mask_string(m, &mut o.message);
    o.sources.iter_mut().for_each(|s| mask_string(m, s));
    if let Some(p) = &mut o.panic {
        mask_string(m, &mut p.message);
    }
    for f in &mut o.frames {
        mask_variables(m, &mut f.args);
        mask_variables(m, &mut f.locals);
    }
    mask_variables(m, &mut o.extra);
    if let Some(r) = &mut o.request {
        mask_string(m, &mut r.url);
        mask_string(m, &mut r.path);
        for (k, v) in r.headers.iter_mut().chain(r.query.iter_mut()) {
            if m.is_secret_key(k) {
                *v = m.mask().to_owned();
            } else {
                mask_string(m, v);
            }
        }
        if let Some(body) = &mut r.body {
            mask_json_keys(m, body, 0);
            mask_json_strings(m, body);
        }
        mask_variables(m, &mut r.custom);
    }
}

/// Applies the key rules to a JSON value that was built without them (a
/// request body, for example).
pub fn mask_json_keys(m: &dyn Masking, v: &mut Value, depth: usize) {
    match v {
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                if m.is_secret_key(k) {
                    *item = Value::String(m.mask().to_owned());
                } else if depth < MAX_DEPTH {
                    mask_json_keys(m, item, depth + 1);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| mask_json_keys(m, i, depth + 1)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_rule_is_a_case_insensitive_substring() {
        let m = DefaultMasking::default();
        for k in ["password", "USER_PASSWORD", "x-api-key", "Authorization", "sessionid", "csrftoken", "db_pwd"] {
            assert!(m.is_secret_key(k), "{k}");
        }
        for k in ["user", "name", "id", "path"] {
            assert!(!m.is_secret_key(k), "{k}");
        }
        assert!(!DefaultMasking::new(vec![], "*".into()).is_secret_key("password"));
    }

    #[test]
    fn value_rules_mask_inside_text() {
        let m = DefaultMasking::new(vec!["password".into()], "***".into());
        assert_eq!(m.mask_text("header Bearer eyJhbGciOi.xyz-123"), "header Bearer ***");
        assert_eq!(m.mask_text("card 4111 1111 1111 1111 declined"), "card *** declined");
        assert_eq!(m.mask_text("order 1234567890123 shipped"), "order 1234567890123 shipped");
        assert_eq!(m.mask_text("postgres://bob:hunter2@db/x"), "postgres://bob:***@db/x");
        assert_eq!(m.mask_text("login failed: password=hunter2 user=bob"), "login failed: password=*** user=bob");
        let pem = "k=-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY----- end";
        assert_eq!(m.mask_text(pem), "k=-----BEGIN PRIVATE KEY-----***-----END PRIVATE KEY----- end");
        assert!(matches!(m.mask_text("nothing here"), Cow::Borrowed(_)));
    }
}
