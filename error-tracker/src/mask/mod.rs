//! Masking: the [`Masking`] trait, its default rules, and the renderers that
//! turn user values into masked JSON before they are stored.
//!
//! Two layers, one mechanism each:
//! - **key rules**, applied while a value is rendered on the failing thread:
//!   a struct field, map key, enum variant, argument, local or header whose
//!   name is secret is stored as the mask string and never rendered;
//! - **value rules**, applied on the writer thread to every string that is
//!   about to be stored: bearer tokens, card numbers, PEM private keys,
//!   URL passwords, well-known token formats (see `token_rules`) and
//!   `secret=value` pairs are masked wherever they appear.
//!
//! Names are compared folded (see [`fold_name`]): `privateKey`,
//! `Private-Key`, `PRIVATE_KEY` and `private.key` are one name.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::LazyLock;

use crate::json::Value;
use regex::Regex;

use crate::occurrence::{Occurrence, Variable};

mod debug_text;
mod defaults;
pub(crate) mod render;
mod text_pairs;
mod token_rules;

pub use debug_text::mask_debug_text;
pub use defaults::{DEFAULT_MASK_WITH, DEFAULT_MASKED_KEYS};
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

/// The default rules: a name is secret when its folded form (lower case,
/// without separators) contains one of the configured
/// names, folded alike (ASCII letters in lower case, separators dropped); bearer and basic credentials, card numbers
/// (Luhn-checked), PEM private keys, URL passwords, well-known token formats
/// (AWS, JWT, GitHub, GitLab, Slack, Stripe, Google) and `secret=value`
/// pairs are masked inside text.
///
/// ```
/// use error_tracker::{DefaultMasking, Masking};
/// let m = DefaultMasking::default();
/// for name in ["privateKey", "Private-Key", "PRIVATE_KEY", "private.key", "X-Api-Key", "clientSecret"] {
///     assert!(m.is_secret_key(name), "{name}");
/// }
/// assert_eq!(m.mask_text("sent X-Api-Key: abc123"), "sent X-Api-Key: **************");
/// assert_eq!(m.mask_text("key AKIAIOSFODNN7EXAMPLE"), "key **************");
/// ```
#[derive(Debug, Clone)]
pub struct DefaultMasking {
    /// The configured names, folded and without repeats.
    keys: Vec<Vec<u8>>,
    mask: String,
    pairs: Option<Regex>,
}

impl Default for DefaultMasking {
    fn default() -> Self {
        Self::new(DEFAULT_MASKED_KEYS.iter().map(|s| (*s).to_owned()).collect(), DEFAULT_MASK_WITH.to_owned())
    }
}

impl DefaultMasking {
    /// Rules from a list of key substrings (matched case-insensitively) and a mask string.
    pub fn new(keys: Vec<String>, mask: String) -> Self {
        let mut folded: Vec<Vec<u8>> = keys.iter().map(|k| fold_name(k)).filter(|k| !k.is_empty()).collect();
        folded.sort();
        folded.dedup();
        let pairs = text_pairs::name_pattern(&folded);
        Self { keys: folded, mask, pairs }
    }
}

/// A name as the key rule compares it: ASCII letters in lower case, digits
/// and non-ASCII bytes kept, everything else (`-`, `_`, `.`, spaces) dropped,
/// so that case boundaries and separators do not matter: `privateKey` and
/// `PRIVATE_KEY` are both `privatekey`, `X-Api-Key` is `xapikey`.
pub(crate) fn fold_name(name: &str) -> Vec<u8> {
    name.bytes().filter_map(fold_byte).collect()
}

fn fold_byte(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b.to_ascii_lowercase()),
        b'a'..=b'z' | b'0'..=b'9' | 0x80.. => Some(b),
        _ => None,
    }
}

impl Masking for DefaultMasking {
    fn is_secret_key(&self, key: &str) -> bool {
        contains_folded(key, &self.keys)
    }

    fn mask_text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let out = mask_value_rules(text, &self.mask);
        match &self.pairs {
            Some(re) => match text_pairs::mask_pairs(re, &out, &self.mask) {
                Some(masked) => Cow::Owned(masked),
                None => out,
            },
            None => out,
        }
    }

    fn mask(&self) -> &str {
        &self.mask
    }
}

/// Whether the folded `hay` contains any of the folded `needles`. Runs on
/// the failing thread for every name rendered: folds into a stack buffer,
/// allocating only for names over 128 bytes.
fn contains_folded(hay: &str, needles: &[Vec<u8>]) -> bool {
    let mut buf = [0u8; 128];
    let mut len = 0;
    let mut long = Vec::new();
    for b in hay.bytes().filter_map(fold_byte) {
        if len < buf.len() {
            buf[len] = b;
            len += 1;
        } else {
            if long.is_empty() {
                long.extend_from_slice(&buf);
            }
            long.push(b);
        }
    }
    let folded = if long.is_empty() { &buf[..len] } else { &long[..] };
    needles.iter().any(|n| !n.is_empty() && folded.len() >= n.len() && folded.windows(n.len()).any(|w| w == &n[..]))
}

static VALUE_RULES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        &[
            r"(?P<pem>-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?s:.*?)(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\z))",
            // Bearer credentials of any length; `Basic`/`token` words need 6
            // characters after them, since they are ordinary words too.
            r"|(?P<bearer>(?i:\bbearer\s+))[A-Za-z0-9\-._~+/]+=*",
            r"|(?P<auth>(?i:\b(?:basic|token)\s+))[A-Za-z0-9\-._~+/]{6,}=*",
            // The password runs to the last `@` before the query: it may hold
            // `/` and `@` (`postgres://app:pa/ss@db`, `postgres://u:p@ss@db`).
            // No word boundary before the scheme: `ref_postgres://…` is a URL too.
            r#"|(?P<userinfo>[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)(?P<pw>[^\s"'<>?#]+)@"#,
            // Runs of 13 or more digits (with single spaces or dashes between):
            // the card is looked for inside the run (see `mask_card_run`), so
            // that digits after it (`4111 1111 1111 1111 12/30`) or letters and
            // `_` around it (`ref_4111111111111111_x`) do not hide it.
            r"|(?P<card>[0-9](?:[ -]?[0-9]){12,})",
            "|(?P<token>",
            token_rules::TOKENS,
            ")",
            // AWS secret access keys are found by `token_rules::aws_secret_ranges`,
            // a byte loop: as a counted class here, they made the regex four
            // times slower (measured with benches/ingest.rs).
        ]
        .concat(),
    )
    .expect("value rules are valid")
});

/// Applies the value rules that do not depend on configuration. Every rule
/// looks at the original text, and what is masked is the union of what they
/// found: a token rule matching inside an AWS secret access key (an `eyJ`
/// by chance in random base64) must not split the key's run and leave the
/// rest of it in clear, nor the key scan a token's.
fn mask_value_rules<'a>(text: &'a str, mask: &str) -> Cow<'a, str> {
    let mut edits = regex_edits(text, mask);
    edits.extend(token_rules::aws_secret_ranges(text).into_iter().map(|range| (range, Cow::Borrowed(mask))));
    if edits.is_empty() {
        return Cow::Borrowed(text);
    }
    edits.sort_unstable_by_key(|(range, _)| range.start);
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut edits = edits.into_iter().peekable();
    while let Some((mut range, mut with)) = edits.next() {
        // Overlapping edits are one: the union, masked whole, unless the
        // first already replaces all of it.
        while let Some((next, _)) = edits.next_if(|(next, _)| next.start < range.end) {
            if next.end > range.end {
                range.end = next.end;
                with = Cow::Borrowed(mask);
            }
        }
        out.push_str(&text[copied..range.start]);
        out.push_str(&with);
        copied = range.end;
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// What the value-rules regex replaces in `text`: each match that holds a
/// secret, with its replacement.
fn regex_edits<'t>(text: &str, mask: &'t str) -> Vec<(Range<usize>, Cow<'t, str>)> {
    if !VALUE_RULES.is_match(text) {
        return Vec::new();
    }
    VALUE_RULES
        .captures_iter(text)
        .filter_map(|c| {
            let whole = c.get(0)?;
            let with = if c.name("pem").is_some() {
                Cow::Owned(format!("-----BEGIN PRIVATE KEY-----{mask}-----END PRIVATE KEY-----"))
            } else if let Some(scheme) = c.name("bearer").or_else(|| c.name("auth")) {
                Cow::Owned(format!("{}{mask}", scheme.as_str()))
            } else if let (Some(u), Some(pw)) = (c.name("userinfo"), c.name("pw")) {
                if token_rules::looks_like_port(pw.as_str()) {
                    return None;
                }
                Cow::Owned(format!("{}{mask}@", u.as_str()))
            } else if let Some(card) = c.name("card") {
                Cow::Owned(mask_card_run(card.as_str(), mask)?)
            } else if c.name("token").is_some() {
                Cow::Borrowed(mask)
            } else {
                return None;
            };
            Some((whole.range(), with))
        })
        .collect()
}

/// Masks the card number inside a run of digits (single spaces or dashes
/// between them): the whole run when it has 13 to 19 digits and passes
/// Luhn; otherwise the first stretch of whole groups (or, in a run without
/// separators, the first 13 to 19 digits at either end) that does.
fn mask_card_run(run: &str, mask: &str) -> Option<String> {
    if luhn_valid(run) {
        return Some(mask.to_owned());
    }
    // Groups: byte ranges of digits between separators.
    let mut groups: Vec<(usize, usize)> = Vec::new();
    let mut start = None;
    for (i, b) in run.bytes().enumerate() {
        match (b.is_ascii_digit(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                groups.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        groups.push((s, run.len()));
    }
    let candidates: Vec<(usize, usize)> = if groups.len() > 1 {
        let mut c = Vec::new();
        for i in 0..groups.len() {
            for j in (i..groups.len()).rev() {
                let (s, e) = (groups[i].0, groups[j].1);
                let digits = groups[i..=j].iter().map(|g| g.1 - g.0).sum::<usize>();
                if (13..=19).contains(&digits) {
                    c.push((s, e));
                }
            }
        }
        c
    } else {
        let n = run.len();
        (13..=19.min(n)).rev().flat_map(|len| [(0, len), (n - len, n)]).collect()
    };
    let (s, e) = candidates.into_iter().find(|&(s, e)| luhn_valid(&run[s..e]))?;
    Some(format!("{}{mask}{}", &run[..s], &run[e..]))
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
    sum.is_multiple_of(10)
}

/// Masks the password in a URL's userinfo (`postgres://user:pw@host` → `postgres://user:****@host`).
pub fn mask_url_userinfo(url: &str) -> String {
    mask_value_rules(url, DEFAULT_MASK_WITH).into_owned()
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
    for b in &mut o.breadcrumbs {
        mask_string(m, &mut b.message);
        mask_variables(m, &mut b.fields);
    }
    for s in &mut o.spans {
        mask_variables(m, &mut s.fields);
    }
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
    fn names_match_in_every_case_style() {
        let m = DefaultMasking::default();
        for k in [
            "privateKey",
            "PrivateKey",
            "Private-Key",
            "PRIVATE_KEY",
            "private.key",
            "private key",
            "apiKey",
            "X-Api-Key",
            "X_API_KEY",
            "clientSecret",
            "Client-Secret",
            "sessionId",
            "Session.ID",
            "userPassword",
            "AUTH_TOKEN",
            "x-auth-token",
            "csrfToken",
        ] {
            assert!(m.is_secret_key(k), "{k}");
        }
        for k in ["user", "userName", "order_id", "Content-Type", "x-request-id", "path", "keyboard", "monkey"] {
            assert!(!m.is_secret_key(k), "{k}");
        }
        // A configured name in any style matches names in any style.
        let custom = DefaultMasking::new(vec!["IBAN-Number".into()], "*".into());
        assert!(custom.is_secret_key("ibanNumber") && custom.is_secret_key("IBAN_NUMBER"));
        let long = format!("{}_password", "x".repeat(300));
        assert!(m.is_secret_key(&long), "names longer than the stack buffer");
    }

    #[test]
    fn card_numbers_inside_runs_and_identifiers() {
        let m = DefaultMasking::new(vec!["password".into()], "***".into());
        assert_eq!(m.mask_text("charge failed: 4111 1111 1111 1111 12/30"), "charge failed: *** 12/30");
        assert_eq!(m.mask_text("ref_4111111111111111_x"), "ref_***_x");
        assert_eq!(m.mask_text("card 4111-1111-1111-1111-0042"), "card ***-0042");
        // Without separators the card's end is a guess: the first Luhn-valid
        // stretch at either end of the run, longest first.
        assert_eq!(m.mask_text("41111111111111110042"), "***42");
        assert_eq!(m.mask_text("id 1234567890123 shipped"), "id 1234567890123 shipped");
        // Not cards: a git SHA's digits, a UUID, a phone number, short numbers.
        for text in [
            "commit 3e2f5610a1b2c3d4e5f60718293a4b5c6d7e8f90",
            "id 550e8400-e29b-41d4-a716-446655440000",
            "call +49 30 1234567",
            "order 12345 of 2026-12-01",
        ] {
            assert_eq!(m.mask_text(text), text);
        }
    }

    #[test]
    fn url_passwords_with_slashes_and_at_signs() {
        let m = DefaultMasking::new(vec![], "***".into());
        assert_eq!(m.mask_text("postgres://app:pa/ss_CCC333@db/app"), "postgres://app:***@db/app");
        assert_eq!(m.mask_text("postgres://user:p@ss@host/db"), "postgres://user:***@host/db");
        assert_eq!(
            m.mask_text("https://u:pw@host/x?email=a@b.example done"),
            "https://u:***@host/x?email=a@b.example done"
        );
        // A port is not a password.
        let port = "see https://example.com:8443/users/@bob";
        assert_eq!(m.mask_text(port), port);
        assert_eq!(m.mask_text("Bearer abc12"), "Bearer ***");
        assert_eq!(m.mask_text("a basic setup"), "a basic setup");
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
