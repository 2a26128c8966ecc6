//! The masking fuzz: generated secrets, through the public API only, never
//! reach the stored bytes (the SQLite file and its WAL), the UI's pages and
//! JSON API, nor (with the `notify` feature) the mails, webhooks and tickets.
//!
//! Each run makes at least 30,000 cases from a seed: a fresh one each run,
//! printed, or `MASKING_FUZZ_SEED=<u64>` to replay one. A case is a secret
//! under a secret name in a random case style (`privateKey`, `Private-Key`,
//! `PRIVATE_KEY`, `private.key`, ...) or a token that the value rules know
//! (AWS key ids and secret keys, JWTs, GitHub, GitLab, Slack, Stripe and
//! Google keys, card numbers, URL passwords, short bearer tokens, PEM keys)
//! under any name. The cases ride in few occurrences: `record_exception!`
//! extras, `Serialize` trees, `Debug`-only trees, error messages, panic
//! messages, and the arguments and locals of a `#[track_exception]` fn;
//! with the `tracing` and `log` features, also breadcrumbs (messages and
//! fields of events and records), span fields and an error event.
//! A leak is any 10-character fragment of a secret's random part found in
//! the output (10, not 6: over megabytes of output, 6 random characters
//! would turn up by chance).
#![allow(non_snake_case)]

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::Arc;

use error_tracker::{PageRequest, Store, record_exception, track_exception};
use error_tracker_suite::{database_bytes, flush, init_once};
use error_tracker_ui::{AllowAll, ErrorTrackerUi, UiRequest};
use proptest::prelude::Rng;
use proptest::test_runner::{RngAlgorithm, TestRng};
use serde::Serialize;

/// Rounds of occurrences; each round holds [`CASES_PER_ROUND`] cases at least.
const ROUNDS: usize = 45;
const CASES_PER_ROUND: usize = 680;
/// The length of a fragment that must not appear anywhere.
const FRAGMENT: usize = 10;

// ------------------------------------------------------------ generation

struct Gen {
    rng: TestRng,
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

impl Gen {
    fn new(seed: u64) -> Self {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        Self { rng: TestRng::from_seed(RngAlgorithm::ChaCha, &bytes) }
    }
    fn below(&mut self, n: usize) -> usize {
        (self.rng.next_u64() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn from(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n).map(|_| alphabet[self.below(alphabet.len())] as char).collect()
    }
    /// Random characters of `alphabet` with at least one upper-case letter,
    /// lower-case letter and digit (so that every fragment is rare).
    fn mixed(&mut self, alphabet: &[u8], n: usize) -> String {
        loop {
            let s = self.from(alphabet, n);
            let b = s.as_bytes();
            if b.iter().any(u8::is_ascii_uppercase)
                && b.iter().any(u8::is_ascii_lowercase)
                && b.iter().any(u8::is_ascii_digit)
            {
                return s;
            }
        }
    }
}

/// Secret names as words, for every case style.
const SECRET_NAMES: &[&[&str]] = &[
    &["private", "key"],
    &["api", "key"],
    &["client", "secret"],
    &["auth", "token"],
    &["password"],
    &["user", "password"],
    &["session", "id"],
    &["access", "token"],
    &["db", "pwd"],
    &["csrf", "token"],
    &["refresh", "token"],
    &["credentials"],
];
const PLAIN_NAMES: &[&str] = &["note", "value", "detail", "context", "info", "item", "reference", "data"];

fn styled(g: &mut Gen, words: &[&str]) -> String {
    let cap = |w: &str| w[..1].to_ascii_uppercase() + &w[1..];
    match g.below(8) {
        0 => words.iter().enumerate().map(|(i, w)| if i == 0 { (*w).to_owned() } else { cap(w) }).collect(),
        1 => words.iter().map(|w| cap(w)).collect(),
        2 => words.join("_"),
        3 => words.join("_").to_ascii_uppercase(),
        4 => words.iter().map(|w| cap(w)).collect::<Vec<_>>().join("-"),
        5 => words.join("-"),
        6 => words.join("."),
        _ => format!("X-{}", words.iter().map(|w| cap(w)).collect::<Vec<_>>().join("-")),
    }
}

fn secret_name(g: &mut Gen) -> String {
    let words = *g.pick(SECRET_NAMES);
    styled(g, words)
}

/// A Luhn-valid 16-digit Visa-like number.
fn card(g: &mut Gen) -> String {
    let mut d: Vec<u32> = std::iter::once(4).chain((0..14).map(|_| g.below(10) as u32)).collect();
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| if i % 2 == 0 { if x * 2 > 9 { x * 2 - 9 } else { x * 2 } } else { x })
        .sum();
    d.push((10 - sum % 10) % 10);
    d.iter().map(|x| char::from_digit(*x, 10).unwrap()).collect()
}

/// A token that a value rule knows, and its random parts.
fn token(g: &mut Gen) -> (String, Vec<String>) {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const URL64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    const AWS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    match g.below(12) {
        0 => {
            let r = g.from(AWS, 16);
            (format!("{}{r}", g.pick(&["AKIA", "ASIA"])), vec![r])
        }
        1 => {
            let r = g.mixed(B64, 40);
            (r.clone(), vec![r])
        }
        2 => {
            let (a, b) = (g.mixed(URL64, 30), g.mixed(URL64, 43));
            (format!("eyJhbGciOiJIUzI1NiJ9.eyJ{a}.{b}"), vec![a, b])
        }
        3 => {
            let r = g.mixed(ALNUM, 36);
            (format!("{}{r}", g.pick(&["ghp_", "gho_", "ghs_"])), vec![r])
        }
        4 => {
            let r = g.mixed(ALNUM, 40);
            (format!("github_pat_11{r}"), vec![r])
        }
        5 => {
            let r = g.mixed(ALNUM, 20);
            (format!("glpat-{r}"), vec![r])
        }
        6 => {
            let r = g.mixed(ALNUM, 24);
            (format!("{}-1234567890-{r}", g.pick(&["xoxb", "xoxp", "xoxa"])), vec![r])
        }
        7 => {
            let r = g.mixed(ALNUM, 24);
            (format!("{}{r}", g.pick(&["sk_live_", "rk_live_", "sk_test_"])), vec![r])
        }
        8 => {
            let r = g.mixed(URL64, 35);
            (format!("AIza{r}"), vec![r])
        }
        9 => {
            let c = card(g);
            let spaced = format!("{} {} {} {}", &c[..4], &c[4..8], &c[8..12], &c[12..]);
            if g.below(2) == 0 { (c.clone(), vec![c]) } else { (spaced.clone(), vec![spaced]) }
        }
        10 => {
            let (a, b) = (g.mixed(ALNUM, 8), g.mixed(ALNUM, 8));
            let pw = format!("{a}{}{b}", g.pick(&["/", "@"]));
            (format!("postgres://app:{pw}@db.internal/app"), vec![pw])
        }
        _ => {
            let r = g.mixed(ALNUM, 48);
            (format!("-----BEGIN RSA PRIVATE KEY-----\n{r}\n-----END RSA PRIVATE KEY-----"), vec![r])
        }
    }
}

/// All the secrets of a run, as fragments to look for.
#[derive(Default)]
struct Secrets {
    fragments: HashSet<Vec<u8>>,
    /// A bit per hash of a fragment: most windows of the output are ruled
    /// out by one bit test, without hashing them into the set.
    filter: Vec<u64>,
    /// Whole short secrets, with their context (`Bearer abc12`).
    whole: Vec<String>,
    cases: usize,
}

impl Secrets {
    /// One case: a secret whose random part is `random_part`.
    fn add(&mut self, random_part: &str) {
        self.cases += 1;
        self.remember(random_part);
    }

    fn remember(&mut self, random_part: &str) {
        let b = random_part.as_bytes();
        if b.len() < FRAGMENT {
            self.whole.push(random_part.to_owned());
            return;
        }
        if self.filter.is_empty() {
            self.filter = vec![0; FILTER_BITS / 64];
        }
        for w in b.windows(FRAGMENT) {
            let h = window_hash(w);
            self.filter[h / 64] |= 1 << (h % 64);
            self.fragments.insert(w.to_vec());
        }
    }

    /// A value under a secret name: random, sometimes with spaces.
    fn keyed(&mut self, g: &mut Gen) -> String {
        let r = g.mixed(ALNUM, 16);
        self.add(&r);
        r
    }

    /// A known token, under any name.
    fn token(&mut self, g: &mut Gen) -> String {
        let (t, parts) = token(g);
        self.cases += 1;
        for p in parts {
            self.remember(&p);
        }
        t
    }

    /// The leaks in `hay`: fragments found, described.
    fn leaks(&self, hay: &[u8]) -> Vec<String> {
        let mut found = Vec::new();
        for w in hay.windows(FRAGMENT) {
            let h = window_hash(w);
            if self.filter[h / 64] & (1 << (h % 64)) != 0 && self.fragments.contains(w) {
                found.push(String::from_utf8_lossy(w).into_owned());
            }
        }
        let text = String::from_utf8_lossy(hay);
        for s in &self.whole {
            if text.contains(s.as_str()) {
                found.push(s.clone());
            }
        }
        found.sort();
        found.dedup();
        found
    }
}

/// The size of the fragment filter, in bits.
const FILTER_BITS: usize = 1 << 24;

/// A cheap hash of a window of [`FRAGMENT`] bytes, below [`FILTER_BITS`].
fn window_hash(w: &[u8]) -> usize {
    let mut head = [0u8; 8];
    head.copy_from_slice(&w[..8]);
    let x = u64::from_le_bytes(head) ^ (u64::from(w[8]) << 7) ^ (u64::from(w[9]) << 29);
    (x.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as usize
}

// ------------------------------------------------------------ the carriers

#[derive(Debug)]
struct FuzzError(String);
impl fmt::Display for FuzzError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for FuzzError {}

#[derive(Serialize, Debug, Clone)]
struct ApiToken(String);

#[derive(Debug, Clone)]
#[allow(dead_code)]
struct Creds {
    user: String,
    key: String,
}

/// A `Debug`-only struct with secret fields named in several styles.
#[derive(Debug)]
#[allow(dead_code)]
struct DebugLogin {
    user: &'static str,
    privateKey: String,
    API_KEY: String,
    clientSecret: String,
    credentials: Creds,
    token: ApiToken,
    wrapped: Option<ApiToken>,
    body: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SerLogin {
    user: &'static str,
    private_key: String,
    #[serde(rename = "X-Api-Key")]
    header_key: String,
    access_token: ApiToken,
}

/// A tree rendered through `Debug` only: maps print `"key": value`,
/// structs `Name { field: value }`.
enum DebugTree {
    Map(Vec<(String, String)>),
    Struct(Vec<(String, String)>),
}
impl fmt::Debug for DebugTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DebugTree::Map(entries) => f.debug_map().entries(entries.iter().map(|(k, v)| (k, v))).finish(),
            DebugTree::Struct(entries) => {
                let mut s = f.debug_struct("Settings");
                for (k, v) in entries {
                    s.field(k, v);
                }
                s.finish()
            }
        }
    }
}

#[track_exception]
fn tracked(
    privateKey: &str,
    api_key: &str,
    PASSWORD: &str,
    note: &str,
    session: &ApiToken,
    message: String,
) -> Result<(), FuzzError> {
    let clientSecret = format!("{privateKey}-{note}");
    let authToken: String = note.chars().rev().collect();
    let apiToken = ApiToken(api_key.to_owned());
    let _ = (&clientSecret, &authToken, &apiToken, PASSWORD, session);
    Err(FuzzError(message))
}

/// One line of free text carrying a secret.
fn text_line(g: &mut Gen, s: &mut Secrets) -> String {
    let name = secret_name(g);
    match g.below(10) {
        0 => format!("{name}: {}", s.keyed(g)),
        1 => format!("{name}={}", s.keyed(g)),
        2 => format!("sent header {}: {}", styled(g, &["api", "key"]), s.keyed(g)),
        3 => format!("GET /x?user=bob&{name}={}&page=2", s.keyed(g)),
        4 => format!("{name}: {} battery {}", s.keyed(g), s.keyed(g)),
        5 => format!("{{\"{name}\": \"{}\", \"user\": \"bob\"}}", s.keyed(g)),
        6 => format!("{name}: Creds {{ user: \"bob\", key: \"{}\" }}", s.keyed(g)),
        7 => {
            let r = g.mixed(ALNUM, 5);
            let shown = format!("Bearer {r}");
            s.add(&shown);
            format!("Authorization: {shown}")
        }
        8 => format!("charge failed: {} 12/30 ref_{}_x", s.token(g), s.token(g)),
        _ => format!("{}: using {}", g.pick(PLAIN_NAMES), s.token(g)),
    }
}

fn text_block(g: &mut Gen, s: &mut Secrets, lines: usize) -> String {
    (0..lines).map(|_| text_line(g, s)).collect::<Vec<_>>().join("\n")
}

/// One round: an extras-laden `record_exception!`, a tracked fn's `Err`
/// and a panic, carrying at least [`CASES_PER_ROUND`] cases in all.
fn round(g: &mut Gen, s: &mut Secrets, n: usize) {
    let before = s.cases;
    // Breadcrumbs and span fields (features `tracing`, `log`): secrets
    // under secret field names, in messages, in plain fields and in an
    // error event's error; they ride with every occurrence of the round.
    #[cfg(feature = "tracing")]
    let _span =
        tracing::info_span!("fuzz_round", round = n, privateKey = %s.keyed(g), note = %text_line(g, s)).entered();
    #[cfg(feature = "tracing")]
    {
        for _ in 0..8 {
            tracing::info!(
                api_key = %s.keyed(g),
                PASSWORD = %s.keyed(g),
                session.id = %s.keyed(g),
                detail = %text_line(g, s),
                "{}",
                text_line(g, s)
            );
            tracing::warn!(clientSecret = ?s.keyed(g), note = ?text_line(g, s), "{}", text_line(g, s));
        }
        let err = FuzzError(format!("event {n}\n{}", text_block(g, s, 5)));
        tracing::error!(error = &err as &dyn std::error::Error, db_pwd = %s.keyed(g), "{}", text_line(g, s));
    }
    #[cfg(feature = "log")]
    for _ in 0..4 {
        log::warn!(api_key = s.keyed(g).as_str(), note = text_line(g, s).as_str(); "{}", text_line(g, s));
    }
    // Serialize tree: secret names in every style, nested, plus tokens under plain names.
    let mut tree: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for i in 0..150 {
        let inner = tree.entry(format!("section{}", i % 10)).or_default();
        inner.insert(format!("{}{i}", secret_name(g)), s.keyed(g));
        inner.insert(format!("{}{i}", g.pick(PLAIN_NAMES)), s.token(g));
    }
    let mut flat: BTreeMap<String, String> = BTreeMap::new();
    for i in 0..60 {
        flat.insert(format!("{}_{i}", secret_name(g)), s.keyed(g));
    }
    // Debug-only trees (bounded to 10,000 characters each when rendered).
    let map = DebugTree::Map((0..50).map(|i| (format!("{}{i}", secret_name(g)), s.keyed(g))).collect());
    let strukt = DebugTree::Struct(
        (0..40)
            .map(|i| {
                if i % 2 == 0 {
                    (format!("{}{i}", secret_name(g)), s.keyed(g))
                } else {
                    (format!("{}{i}", g.pick(PLAIN_NAMES)), s.token(g))
                }
            })
            .collect(),
    );
    let login = DebugLogin {
        user: "bob",
        privateKey: s.keyed(g),
        API_KEY: s.keyed(g),
        clientSecret: s.keyed(g),
        credentials: Creds { user: "bob".into(), key: s.keyed(g) },
        token: ApiToken(s.keyed(g)),
        wrapped: Some(ApiToken(s.keyed(g))),
        body: format!("{{\"client_secret\": \"{}\", \"user\": \"bob\"}}", s.keyed(g)),
    };
    let ser =
        SerLogin { user: "bob", private_key: s.keyed(g), header_key: s.keyed(g), access_token: ApiToken(s.keyed(g)) };
    let message = format!("round {n}\n{}", text_block(g, s, 70));
    let _ = record_exception!(
        FuzzError(message),
        "privateKey" => s.keyed(g),
        "Private-Key" => s.keyed(g),
        "PRIVATE_KEY" => s.keyed(g),
        "private.key" => s.keyed(g),
        "apiKey" => s.keyed(g),
        "X-Api-Key" => s.keyed(g),
        "clientSecret" => s.keyed(g),
        "Auth-Token" => s.keyed(g),
        "note" => s.token(g),
        "reference" => s.token(g),
        "tree" => tree,
        "flat" => flat,
        "debug_map" => map,
        "debug_struct" => strukt,
        "login" => login,
        "ser_login" => ser,
        "apiToken" => ApiToken(s.keyed(g)),
    );

    let (pk, ak, pw, note, sess) = (s.keyed(g), s.keyed(g), s.keyed(g), s.token(g), ApiToken(s.keyed(g)));
    let message = format!("tracked {n}\n{}", text_block(g, s, 70));
    assert!(tracked(&pk, &ak, &pw, &note, &sess, message).is_err());

    let panic_message = format!("panic {n}\n{}", text_block(g, s, 70));
    let caught = std::panic::catch_unwind(|| panic!("{panic_message}"));
    assert!(caught.is_err());
    assert!(s.cases - before >= CASES_PER_ROUND, "a round made {} cases", s.cases - before);
}

// ------------------------------------------------------------ the receivers

/// The SMTP server, and an HTTP server that answers what a webhook or
/// GitHub expects, on loopback.
#[cfg(feature = "notify")]
fn receivers() -> (error_tracker_suite::peers::SmtpServer, error_tracker_suite::peers::HttpServer) {
    use error_tracker_suite::peers::{Answer, HttpServer, SmtpMode, SmtpServer};
    let http = HttpServer::start(|r, base| {
        Answer::Json(
            201,
            if r.path.ends_with("/issues") {
                format!(r#"{{"number":1,"html_url":"{base}/acme/shop/issues/1"}}"#)
            } else {
                "{}".to_owned()
            },
        )
    });
    (SmtpServer::start(SmtpMode::Up), http)
}

// ------------------------------------------------------------ the test

/// The first keyed value that a run with this seed generates.
fn tracked_sample(g: &mut Gen) -> String {
    let _ = secret_name(g);
    g.mixed(ALNUM, 16)
}

/// The HTML of a page with the template escapes undone, as a reader sees it.
fn unescape_html(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

#[test]
fn no_fragment_of_a_generated_secret_is_stored_shown_or_sent() {
    let seed =
        std::env::var("MASKING_FUZZ_SEED").ok().and_then(|s| s.trim().parse::<u64>().ok()).unwrap_or_else(|| {
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
            h.finish()
        });
    println!("masking fuzz seed: {seed} (replay with MASKING_FUZZ_SEED={seed})");

    // The panics are the test's own: keep the default hook from printing
    // (and symbolizing) each of them. The tracker's hook chains to this one.
    std::panic::set_hook(Box::new(|_| {}));
    #[cfg(feature = "tracing")]
    {
        use tracing_subscriber::prelude::*;
        tracing::subscriber::set_global_default(
            tracing_subscriber::registry().with(error_tracker::integrations::tracing::layer()),
        )
        .expect("the only subscriber");
    }
    #[cfg(feature = "log")]
    error_tracker::integrations::log::Logger::alone().init(log::LevelFilter::Info).expect("the only logger");
    #[cfg(feature = "notify")]
    let (smtp, http) = receivers();
    let path = init_once(|c| {
        // Every occurrence its own group, so that each is notified and ticketed.
        let c = c.fingerprint(|o| o.id.clone());
        #[cfg(feature = "notify")]
        let c = {
            use error_tracker::notify::ticketing::GithubIssues;
            use error_tracker::notify::{SmtpSettings, SmtpTls, WebhookNotifier};
            c.send_notification(true)
                .recipient_emails(["oncall@example.com"])
                .email_sender("errors@example.com")
                .smtp(SmtpSettings::new("127.0.0.1", smtp.port).tls(SmtpTls::None))
                .notifier(WebhookNotifier::new(format!("{}/hook", http.base)))
                .notifier(WebhookNotifier::new(format!("{}/slack", http.base)).slack())
                .ticketing(GithubIssues::new("acme/shop", "gh-test").api_url(&http.base))
        };
        c
    });

    let mut g = Gen::new(seed);
    let mut secrets = Secrets::default();
    let started = std::time::Instant::now();
    for n in 0..ROUNDS {
        round(&mut g, &mut secrets, n);
        if n % 15 == 14 {
            flush();
            #[cfg(feature = "notify")]
            assert!(error_tracker::notify::flush(std::time::Duration::from_secs(60)), "notifications delivered");
        }
    }
    flush();
    #[cfg(feature = "notify")]
    assert!(error_tracker::notify::flush(std::time::Duration::from_secs(60)), "notifications delivered");
    println!("masking fuzz: {} cases in {} rounds, recorded in {:?}", secrets.cases, ROUNDS, started.elapsed());
    assert!(secrets.cases >= 30_000, "{} cases", secrets.cases);

    // The detector itself: an unmasked secret of this run is found.
    let sample = format!("x {} y", tracked_sample(&mut Gen::new(seed)));
    assert!(!secrets.leaks(sample.as_bytes()).is_empty(), "the leak detector finds {sample}");

    let mut failures = Vec::new();
    let mut check = |what: &str, hay: &[u8]| {
        let leaks = secrets.leaks(hay);
        if !leaks.is_empty() {
            failures.push(format!("{what}: {} leaks, e.g. {:?}", leaks.len(), &leaks[..leaks.len().min(5)]));
        }
    };

    // The database: the file and its WAL, as bytes.
    let bytes = database_bytes(&path);
    assert!(bytes.windows(14).any(|w| w == b"**************"), "masked values are stored as the mask");
    check("database bytes (file and WAL)", &bytes);
    // Not vacuous: the breadcrumbs and spans were stored (and are shown below).
    #[cfg(feature = "tracing")]
    {
        let conn = rusqlite::Connection::open(&path).expect("open the database");
        let with: i64 = conn
            .query_row(
                "SELECT count(*) FROM occurrences WHERE breadcrumbs IS NOT NULL AND spans IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .expect("count");
        assert!(with >= ROUNDS as i64 * 3, "{with} occurrences with breadcrumbs and spans");
    }

    // The UI, in process: the list, every detail and occurrence page, the facets, the JSON API.
    let store: Arc<dyn Store> = error_tracker::store().expect("initialized");
    let ui = ErrorTrackerUi::new(store.clone()).permission(AllowAll).page_size(500);
    let get = |target: &str| {
        let res = ui.handle(&UiRequest::new("GET", target));
        assert_eq!(res.status, 200, "{target}");
        String::from_utf8(res.body).expect("UTF-8 page")
    };
    let groups = store
        .list_groups(&error_tracker::GroupQuery { page: PageRequest::first(500), ..Default::default() })
        .expect("groups");
    assert!(groups.items.len() >= ROUNDS * 3, "one group per occurrence: {}", groups.items.len());
    let mut html = unescape_html(&get("/dev/error/"));
    let mut json = get("/dev/error/api/groups?per_page=100");
    for grp in &groups.items {
        html.push_str(&unescape_html(&get(&format!("/dev/error/group/{}", grp.hash))));
        json.push_str(&get(&format!("/dev/error/api/groups/{}", grp.hash)));
        json.push_str(&get(&format!("/dev/error/api/groups/{}/occurrences", grp.hash)));
        // Every stored occurrence's own page, and the facets of its values.
        json.push_str(&get(&format!("/dev/error/api/groups/{}/facets", grp.hash)));
        let stored = store.occurrences(&grp.hash, PageRequest::first(100)).expect("occurrences");
        for o in &stored.items {
            html.push_str(&unescape_html(&get(&format!("/dev/error/group/{}/occurrence/{}", grp.hash, o.id))));
        }
    }
    assert!(html.contains("**************") && json.contains("**************"));
    #[cfg(feature = "tracing")]
    assert!(html.contains("Breadcrumbs") && html.contains("fuzz_round{round="), "the trail is shown");
    check("UI pages", html.as_bytes());
    check("JSON API", json.as_bytes());

    #[cfg(feature = "notify")]
    {
        let mails: Vec<String> = smtp.mails().iter().map(|m| m.decoded()).collect();
        let posts: Vec<String> = http.requests(|_| true).into_iter().map(|r| r.body).collect();
        let (mails, posts) = (mails.join("\n"), posts.join("\n"));
        assert!(mails.contains("round 0") && posts.contains("round 0"), "notifications and tickets were sent");
        check("mails", mails.as_bytes());
        check("webhooks and tickets", posts.as_bytes());
    }
    println!("masking fuzz: {} cases checked in {:?} (seed {seed})", secrets.cases, started.elapsed());
    // The panic hook above prints nothing: say what leaked first.
    for f in &failures {
        println!("masking fuzz: {f}");
    }
    assert!(failures.is_empty(), "seed {seed}:\n{}", failures.join("\n"));
}
