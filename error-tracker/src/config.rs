//! [`Config`]: every setting, with a builder and [`Config::from_env`].

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use crate::init_error::InitError;
use crate::mask::{DefaultMasking, Masking};
use crate::notify::{Notifier, SmtpSettings, Ticketing};
use crate::store::Store;

/// A fingerprint function: the symbolized, masked occurrence in, the group
/// key out. It runs on the writer thread.
pub type FingerprintFn = dyn Fn(&crate::Occurrence) -> String + Send + Sync + 'static;

// The masking defaults live with masking (`mask::defaults`), which must not
// import the configuration above it; re-exported here, where users find them.
pub use crate::mask::{DEFAULT_MASK_WITH, DEFAULT_MASKED_KEYS};

/// Where occurrences are stored.
///
/// Its `Debug` masks a PostgreSQL password:
///
/// ```
/// use error_tracker::Database;
/// let db = Database::parse("postgres://app:s3cret@db/errors");
/// assert_eq!(format!("{db:?}"), r#"Postgres("postgres://app:****@db/errors")"#);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file (the default: `errors.sqlite`).
    Sqlite(PathBuf),
    /// A PostgreSQL URL (`postgres://…`) or `key=value` connection string
    /// (`host=db user=app dbname=errors`), with the `postgres` feature.
    Postgres(String),
}

/// The keywords of libpq's `key=value` connection strings that tell one
/// from a file name: a SQLite path starting with `host=` is not worth
/// supporting, a connection string taken for a path creates a file named
/// after the password.
const PG_KEYWORDS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "passfile",
    "connect_timeout",
    "options",
    "application_name",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "target_session_attrs",
    "keepalives",
    "keepalives_idle",
    "service",
];

impl Database {
    /// Reads `APP_ERROR_DB`'s form: a `postgres://` or `postgresql://` URL,
    /// or a libpq `key=value` string whose first key is one of libpq's
    /// (`host=db user=app password=… dbname=errors`); else a SQLite path.
    ///
    /// ```
    /// use error_tracker::Database;
    /// assert!(matches!(Database::parse("host=db user=app dbname=errors"), Database::Postgres(_)));
    /// assert!(matches!(Database::parse("data/errors.sqlite"), Database::Sqlite(_)));
    /// ```
    pub fn parse(s: &str) -> Database {
        let key_value = s
            .trim_start()
            .split_once('=')
            .is_some_and(|(key, _)| PG_KEYWORDS.contains(&key.trim().to_ascii_lowercase().as_str()));
        if s.starts_with("postgres://") || s.starts_with("postgresql://") || key_value {
            Database::Postgres(s.to_owned())
        } else {
            Database::Sqlite(PathBuf::from(s))
        }
    }
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Database::Postgres(url) => f.debug_tuple("Postgres").field(&crate::store::mask_password(url)).finish(),
        }
    }
}

/// The settings of the tracker, passed to [`init`](crate::init).
///
/// Each setting has a method named for it that sets it (`url_prefix(..)`,
/// `list_size(..)`, `track_all(..)`) and, where it can be read back, one
/// with `get_` in front (`get_url_prefix()`), as `std::process::Command`
/// names its own.
///
/// ```
/// use std::time::Duration;
/// let config = error_tracker::Config::default()
///     .database("errors.sqlite")
///     .masked_keys(["password", "secret", "card"])
///     .release("my-app@1.2.3")
///     .flush_timeout(Duration::from_secs(2));
/// assert_eq!(config.get_url_prefix(), "/dev/error");
/// ```
#[derive(Clone)]
pub struct Config {
    pub(crate) masked_keys: Vec<String>,
    pub(crate) mask_with: String,
    pub(crate) url_prefix: String,
    pub(crate) send_notification: bool,
    pub(crate) recipient_emails: Vec<String>,
    pub(crate) subject_prefix: String,
    pub(crate) email_sender: Option<String>,
    pub(crate) list_size: u32,
    pub(crate) track_all: bool,
    pub(crate) database: Database,
    pub(crate) release: Option<String>,
    pub(crate) queue_capacity: usize,
    pub(crate) occurrences_per_group: u32,
    pub(crate) detail_budget: Option<u32>,
    pub(crate) flush_timeout: Duration,
    pub(crate) masking: Option<Arc<dyn Masking>>,
    pub(crate) store: Option<Arc<dyn Store>>,
    pub(crate) fingerprint: Option<Arc<FingerprintFn>>,
    pub(crate) in_app_prefixes: Vec<String>,
    pub(crate) notify: crate::notify::NotifySettings,
    pub(crate) context_builder: Option<Arc<dyn crate::ContextBuilder>>,
    pub(crate) max_body_size: usize,
    pub(crate) retention: crate::store::Retention,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            masked_keys: DEFAULT_MASKED_KEYS.iter().map(|s| (*s).to_owned()).collect(),
            mask_with: DEFAULT_MASK_WITH.to_owned(),
            url_prefix: "/dev/error".to_owned(),
            send_notification: false,
            recipient_emails: Vec::new(),
            subject_prefix: String::new(),
            email_sender: None,
            list_size: 10,
            track_all: false,
            database: Database::Sqlite(PathBuf::from("errors.sqlite")),
            release: None,
            queue_capacity: 8192,
            occurrences_per_group: 100,
            detail_budget: None,
            flush_timeout: Duration::from_secs(5),
            masking: None,
            store: None,
            fingerprint: None,
            in_app_prefixes: Vec::new(),
            notify: Default::default(),
            context_builder: None,
            max_body_size: crate::context::DEFAULT_MAX_BODY_SIZE,
            retention: crate::store::Retention::default(),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("masked_keys", &self.masked_keys)
            .field("mask_with", &self.mask_with)
            .field("url_prefix", &self.url_prefix)
            .field("send_notification", &self.send_notification)
            .field("recipient_emails", &self.recipient_emails)
            .field("subject_prefix", &self.subject_prefix)
            .field("email_sender", &self.email_sender)
            .field("list_size", &self.list_size)
            .field("track_all", &self.track_all)
            .field("database", &crate::mask::mask_url_userinfo(&format!("{:?}", self.database)))
            .field("release", &self.release)
            .field("queue_capacity", &self.queue_capacity)
            .field("occurrences_per_group", &self.occurrences_per_group)
            .field("detail_budget", &self.detail_budget)
            .field("flush_timeout", &self.flush_timeout)
            .field("custom_masking", &self.masking.is_some())
            .field("custom_store", &self.store.is_some())
            .field("custom_fingerprint", &self.fingerprint.is_some())
            .field("custom_context_builder", &self.context_builder.is_some())
            .field("max_body_size", &self.max_body_size)
            .field("retention", &self.retention)
            .field("notify", &self.notify)
            .finish()
    }
}

impl Config {
    /// The defaults, overridden by the environment variables that are set:
    /// `APP_ERROR_MASKED_KEY_HAS` (comma-separated), `APP_ERROR_MASK_WITH`,
    /// `APP_ERROR_URL_PREFIX`, `APP_ERROR_SEND_NOTIFICATION`,
    /// `APP_ERROR_RECIPIENT_EMAIL` (comma-separated), `APP_ERROR_SUBJECT_PREFIX`,
    /// `APP_ERROR_EMAIL_SENDER`, `EXCEPTION_APP_DEFAULT_LIST_SIZE`,
    /// `TRACK_ALL_EXCEPTIONS`, `APP_ERROR_DB` and `APP_ERROR_RELEASE`, and
    /// those of notifications: `APP_ERROR_SMTP_*`, `APP_ERROR_WEBHOOK_URL`,
    /// `APP_ERROR_SLACK_WEBHOOK_URL`, `APP_ERROR_GITHUB_*`, `APP_ERROR_JIRA_*`,
    /// `APP_ERROR_TICKET_WEBHOOK_URL`, `APP_ERROR_HTTP_TIMEOUT_SECS`,
    /// `APP_ERROR_NOTIFY_*` and `APP_ERROR_UI_BASE_URL` (the README's
    /// settings table says what each does).
    ///
    /// A value that cannot be used gives [`InitError::InvalidSetting`] naming
    /// the variable and the value.
    pub fn from_env() -> Result<Self, InitError> {
        Self::from_lookup(|name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()))
    }

    /// Like [`from_env`](Self::from_env), reading the settings from `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, InitError> {
        let mut c = Config::default();
        let get = |name: &'static str| lookup(name).map(|v| (name, v));
        if let Some((_, v)) = get("APP_ERROR_MASKED_KEY_HAS") {
            c.masked_keys = split_list(&v);
        }
        if let Some((name, v)) = get("APP_ERROR_MASK_WITH") {
            if v.is_empty() {
                return Err(invalid(name, v, "the mask must not be empty"));
            }
            c.mask_with = v;
        }
        if let Some((name, v)) = get("APP_ERROR_URL_PREFIX") {
            c.url_prefix = check_prefix(&v).map_err(|r| invalid(name, v.clone(), r))?;
        }
        if let Some((name, v)) = get("APP_ERROR_SEND_NOTIFICATION") {
            c.send_notification = parse_bool(&v).ok_or_else(|| invalid(name, v.clone(), BOOL_REASON))?;
        }
        let off = !c.send_notification && lookup("APP_ERROR_SEND_NOTIFICATION").is_some();
        if let Some((name, v)) = get("APP_ERROR_RECIPIENT_EMAIL") {
            let list = split_list(&v);
            if let Some(bad) = list.iter().find(|e| !looks_like_email(e)) {
                return Err(invalid(name, v.clone(), &format!("{bad:?} is not an email address")));
            }
            c.recipient_emails = list;
        }
        if let Some((_, v)) = get("APP_ERROR_SUBJECT_PREFIX") {
            c.subject_prefix = v;
        }
        if let Some((name, v)) = get("APP_ERROR_EMAIL_SENDER") {
            if !looks_like_email(&v) {
                return Err(invalid(name, v, "not an email address"));
            }
            c.email_sender = Some(v);
        }
        if let Some((name, v)) = get("EXCEPTION_APP_DEFAULT_LIST_SIZE") {
            c.list_size = match v.trim().parse::<u32>() {
                Ok(n) if (1..=1000).contains(&n) => n,
                _ => return Err(invalid(name, v, "expected a whole number from 1 to 1000")),
            };
        }
        if let Some((name, v)) = get("TRACK_ALL_EXCEPTIONS") {
            c.track_all = parse_bool(&v).ok_or_else(|| invalid(name, v.clone(), BOOL_REASON))?;
        }
        if let Some((name, v)) = get("APP_ERROR_DB") {
            if v.trim().is_empty() {
                return Err(invalid(
                    name,
                    v,
                    "expected a SQLite path, a postgres:// URL or a host=… dbname=… connection string",
                ));
            }
            c.database = Database::parse(v.trim());
        }
        // Retention limits: a whole number, 0 for none.
        let limit = |name: &'static str, v: String| -> Result<Option<u64>, InitError> {
            match v.trim().parse::<u64>() {
                Ok(0) => Ok(None),
                Ok(n) => Ok(Some(n)),
                Err(_) => Err(invalid(name, v, "expected a whole number (0: no limit)")),
            }
        };
        if let Some((name, v)) = get("APP_ERROR_MAX_GROUPS") {
            c.retention.max_groups = limit(name, v)?;
        }
        if let Some((name, v)) = get("APP_ERROR_MAX_DB_MB") {
            c.retention.max_bytes = limit(name, v)?.map(|mb| mb.saturating_mul(1 << 20));
        }
        if let Some((name, v)) = get("APP_ERROR_MAX_AGE_DAYS") {
            c.retention.max_age = limit(name, v)?.map(|d| Duration::from_secs(d.saturating_mul(86_400)));
        }
        if let Some((_, v)) = get("APP_ERROR_RELEASE") {
            c.release = Some(v).filter(|v| !v.is_empty());
        }
        c.notify = crate::notify::NotifySettings::from_lookup(&lookup)?;
        c.notify.off = off;
        // A webhook, Slack or ticket system named in the environment turns
        // notifications on, as one given in code does.
        if c.notify.env_names_a_channel() && lookup("APP_ERROR_SEND_NOTIFICATION").is_none() {
            c.send_notification = true;
        }
        Ok(c)
    }

    /// Names that contain any of these are masked, compared folded: lower
    /// case, separators dropped, so `privateKey`, `Private-Key` and
    /// `PRIVATE_KEY` all contain `private_key`.
    /// Replaces the default list; an empty list turns key masking off.
    pub fn masked_keys<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.masked_keys = keys.into_iter().map(|k| k.into().to_lowercase()).collect();
        self
    }

    /// The string stored in place of masked values (default `**************`).
    pub fn mask_with(mut self, mask: impl Into<String>) -> Self {
        self.mask_with = mask.into();
        self
    }

    /// Where the UI is mounted (`APP_ERROR_URL_PREFIX`, default
    /// `/dev/error`). A trailing `/` is removed.
    pub fn url_prefix(mut self, prefix: impl Into<String>) -> Self {
        let p = prefix.into();
        self.url_prefix = check_prefix(&p).unwrap_or(p);
        self
    }

    /// Whether to send notifications (`APP_ERROR_SEND_NOTIFICATION`).
    ///
    /// `false` (here or in the environment) wins: nothing is sent, whatever
    /// notifiers and ticketing the code gives, before or after.
    ///
    /// ```
    /// use error_tracker::notify::{Notification, NotifyError};
    /// struct Print;
    /// impl error_tracker::Notifier for Print {
    ///     fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
    ///         Ok(println!("{}", n.subject))
    ///     }
    /// }
    /// let env = |name: &str| (name == "APP_ERROR_SEND_NOTIFICATION").then(|| "false".to_owned());
    /// let config = error_tracker::Config::from_lookup(env).unwrap().notifier(Print);
    /// assert!(!config.get_send_notification());
    /// ```
    pub fn send_notification(mut self, on: bool) -> Self {
        self.send_notification = on;
        self.notify.off = !on;
        self
    }

    /// Who receives notification emails (`APP_ERROR_RECIPIENT_EMAIL`).
    pub fn recipient_emails<I, S>(mut self, to: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.recipient_emails = to.into_iter().map(Into::into).collect();
        self
    }

    /// The prefix of notification subjects (`APP_ERROR_SUBJECT_PREFIX`).
    pub fn subject_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.subject_prefix = prefix.into();
        self
    }

    /// The sender of notification emails (`APP_ERROR_EMAIL_SENDER`).
    pub fn email_sender(mut self, from: impl Into<String>) -> Self {
        self.email_sender = Some(from.into());
        self
    }

    /// The UI's page size (`EXCEPTION_APP_DEFAULT_LIST_SIZE`, default 10).
    pub fn list_size(mut self, n: u32) -> Self {
        self.list_size = n.max(1);
        self
    }

    /// Whether web integrations record 4xx responses too (`TRACK_ALL_EXCEPTIONS`).
    pub fn track_all(mut self, on: bool) -> Self {
        self.track_all = on;
        self
    }

    /// The database: a SQLite path or a `postgres://` URL (`APP_ERROR_DB`).
    pub fn database(mut self, db: impl AsRef<str>) -> Self {
        self.database = Database::parse(db.as_ref());
        self
    }

    /// The release stored with each occurrence, e.g. `my-app@1.2.3`.
    pub fn release(mut self, release: impl Into<String>) -> Self {
        self.release = Some(release.into());
        self
    }

    /// How many occurrences may wait for the writer (default 8192). Past
    /// that, occurrences are folded into counters per group (the groups the
    /// default fingerprint makes: by capture site, known before anything is
    /// symbolized), never blocked, never uncounted. Past 10,000
    /// groups waiting at once, the rest are counted per exception name, in a
    /// group of their own whose message says so.
    pub fn queue_capacity(mut self, n: usize) -> Self {
        self.queue_capacity = n.max(1);
        self
    }

    /// How much the store keeps (default [`Retention::default`](crate::Retention):
    /// 50,000 groups, 1 GiB, 90 days). The writer deletes the least recently
    /// seen groups past these limits every few seconds, and the store keeps
    /// the counts of what it deleted (`APP_ERROR_MAX_GROUPS`,
    /// `APP_ERROR_MAX_DB_MB`, `APP_ERROR_MAX_AGE_DAYS`; 0 is no limit).
    ///
    /// ```
    /// use std::time::Duration;
    /// use error_tracker::{Config, Retention};
    /// let limits = Retention { max_groups: Some(1_000), max_bytes: None, max_age: Some(Duration::from_secs(86_400)) };
    /// assert_eq!(Config::default().retention(limits).get_retention(), limits);
    /// ```
    pub fn retention(mut self, limits: crate::store::Retention) -> Self {
        self.retention = limits;
        self
    }

    /// The retention limits (see [`retention`](Self::retention)).
    pub fn get_retention(&self) -> crate::store::Retention {
        self.retention
    }

    /// How many occurrences are kept per group, newest first (default 100).
    pub fn occurrences_per_group(mut self, n: u32) -> Self {
        self.occurrences_per_group = n.max(1);
        self
    }

    /// How many occurrences of one capture site (a `record_exception!`
    /// call, a tracked fn failing at one line, for one error type, or the
    /// place where a panic is raised) are
    /// captured in detail per second (default: [`occurrences_per_group`](Self::occurrences_per_group),
    /// as many as a group keeps).
    ///
    /// In an error storm, once the writer has stored one of a site's
    /// occurrences, the site's repeats past this budget are only counted
    /// on the failing thread: no stack walk, no rendering of the error (or
    /// the panic's message), its extras or the tracked frames' variables,
    /// nothing queued. They add to
    /// their group's count, hours and last seen time, and
    /// [`record_exception!`](crate::record_exception) returns a nil
    /// [`EventId`](crate::EventId) for them. `u32::MAX` captures every
    /// occurrence in detail. With a [custom fingerprint](Self::fingerprint)
    /// (which may group one site's occurrences apart) every occurrence is
    /// captured in detail.
    ///
    /// ```
    /// let config = error_tracker::Config::default().detail_budget(20);
    /// # let _ = config;
    /// ```
    pub fn detail_budget(mut self, per_second: u32) -> Self {
        self.detail_budget = Some(per_second);
        self
    }

    /// How long dropping the [`Guard`](crate::Guard) waits for the writer (default 5 s).
    pub fn flush_timeout(mut self, d: Duration) -> Self {
        self.flush_timeout = d;
        self
    }

    /// Replaces the masking rules.
    pub fn masking(mut self, masking: impl Masking) -> Self {
        self.masking = Some(Arc::new(masking));
        self
    }

    /// Replaces the store chosen by [`database`](Self::database).
    pub fn store(mut self, store: impl Store) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Replaces the fingerprint (group key) function.
    ///
    /// While the queue is full, occurrences of one default group (one
    /// capture site; for one without a site, the same exception name, raw
    /// stack and message, numbers, hex and ids aside) are counted together
    /// and fingerprinted once, as the first of them.
    pub fn fingerprint(mut self, f: impl Fn(&crate::Occurrence) -> String + Send + Sync + 'static) -> Self {
        self.fingerprint = Some(Arc::new(f));
        self
    }

    /// Function-path prefixes (crate names, such as `my_app::`) whose frames
    /// are in-app. By default a frame is in-app unless it comes from std, a
    /// registry dependency or error-tracker itself.
    pub fn in_app<I, S>(mut self, prefixes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.in_app_prefixes = prefixes.into_iter().map(Into::into).collect();
        self
    }

    /// Replaces how the web integrations build the request context (the
    /// default is [`DefaultContextBuilder`](crate::DefaultContextBuilder)).
    pub fn context_builder(mut self, builder: impl crate::ContextBuilder) -> Self {
        self.context_builder = Some(Arc::new(builder));
        self
    }

    /// The largest JSON or form request body the web integrations capture
    /// (default 64 KiB). A larger body is not buffered: the handler streams it.
    pub fn max_body_size(mut self, bytes: usize) -> Self {
        self.max_body_size = bytes;
        self
    }

    /// Where the UI is mounted: see [`url_prefix`](Self::url_prefix).
    pub fn get_url_prefix(&self) -> &str {
        &self.url_prefix
    }

    /// The largest request body captured, in bytes: see [`max_body_size`](Self::max_body_size).
    pub fn get_max_body_size(&self) -> usize {
        self.max_body_size
    }

    /// The masking rules in effect: the custom ones, or the defaults built
    /// from [`masked_keys`](Self::masked_keys) and [`mask_with`](Self::mask_with).
    pub fn get_masking(&self) -> Arc<dyn Masking> {
        match &self.masking {
            Some(m) => m.clone(),
            None => Arc::new(DefaultMasking::new(self.masked_keys.clone(), self.mask_with.clone())),
        }
    }

    /// The configured database: see [`database`](Self::database).
    pub fn get_database(&self) -> &Database {
        &self.database
    }

    /// Whether notifications are on: see [`send_notification`](Self::send_notification).
    pub fn get_send_notification(&self) -> bool {
        self.send_notification && !self.notify.off
    }

    /// The notification recipients: see [`recipient_emails`](Self::recipient_emails).
    pub fn get_recipient_emails(&self) -> &[String] {
        &self.recipient_emails
    }

    /// The notification subject prefix: see [`subject_prefix`](Self::subject_prefix).
    pub fn get_subject_prefix(&self) -> &str {
        &self.subject_prefix
    }

    /// The notification sender: see [`email_sender`](Self::email_sender).
    pub fn get_email_sender(&self) -> Option<&str> {
        self.email_sender.as_deref()
    }

    /// The UI's page size: see [`list_size`](Self::list_size).
    pub fn get_list_size(&self) -> u32 {
        self.list_size
    }

    /// Whether 4xx responses are recorded too: see [`track_all`](Self::track_all).
    pub fn get_track_all(&self) -> bool {
        self.track_all
    }
}

/// Notification settings. Without any of them, nothing is sent.
impl Config {
    /// Adds a notifier and turns notifications on, unless they were turned
    /// off (`APP_ERROR_SEND_NOTIFICATION=false` or
    /// [`send_notification(false)`](Self::send_notification): that wins).
    /// Several notifiers all receive every notification, each on a queue
    /// and thread of its own.
    pub fn notifier(mut self, notifier: impl Notifier) -> Self {
        self.notify.notifiers.push(Arc::new(notifier));
        self.send_notification = !self.notify.off;
        self
    }

    /// Opens and updates tickets with `ticketing` (on a queue and thread of
    /// its own), unless notifications were turned off.
    pub fn ticketing(mut self, ticketing: impl Ticketing) -> Self {
        self.notify.ticketing = Some(Arc::new(ticketing));
        self
    }

    /// Besides new groups and regressions, notifies each time a group's
    /// count reaches a multiple of `n` (`APP_ERROR_NOTIFY_EVERY`; 0 turns it
    /// off). When one write crosses several multiples (a storm), one message
    /// says so: "reached the 1000th to 10000th occurrences"
    /// ([`Reason::Multiples`](crate::notify::Reason::Multiples)).
    pub fn notify_every(mut self, n: u64) -> Self {
        self.notify.every = (n > 0).then_some(n);
        self
    }

    /// Besides new groups and regressions, notifies a group that keeps
    /// happening again at most once per `interval`
    /// (`APP_ERROR_NOTIFY_INTERVAL_SECS`).
    pub fn notify_interval(mut self, interval: Duration) -> Self {
        self.notify.interval = (!interval.is_zero()).then_some(interval);
        self
    }

    /// The SMTP server for notification emails (the `email` feature).
    pub fn smtp(mut self, smtp: SmtpSettings) -> Self {
        self.notify.smtp = Some(smtp);
        self
    }

    /// Where the UI is reachable from a mail reader, e.g.
    /// `https://app.example.com` (`APP_ERROR_UI_BASE_URL`): group links in
    /// notifications are `<base><url prefix>/group/<hash>`.
    pub fn ui_base_url(mut self, base: impl Into<String>) -> Self {
        self.notify.ui_base_url = base.into().trim_end_matches('/').to_owned();
        self
    }

    /// How often a delivery is tried in a row (default 3,
    /// `APP_ERROR_NOTIFY_RETRIES`) and the pause after the first failure
    /// (default 1 s, doubled after each; `APP_ERROR_NOTIFY_BACKOFF_MS`).
    /// After the last try the channel is down: what it owes is kept and
    /// sent once it answers again.
    pub fn notify_retry(mut self, tries: u32, backoff: Duration) -> Self {
        self.notify.retry = Some((tries.max(1), backoff));
        self
    }

    /// How many notifications may wait in each channel's queue (default
    /// 256, `APP_ERROR_NOTIFY_QUEUE_SIZE`). Past that they wait in the
    /// store's outbox, not in memory: none is dropped (with a store that
    /// keeps no outbox, the newest are dropped and counted).
    pub fn notify_queue_size(mut self, n: usize) -> Self {
        self.notify.queue_size = Some(n.max(1));
        self
    }
}

impl Config {
    /// What the notification channels are set up from.
    pub(crate) fn notify_setup(&self) -> crate::notify::Setup<'_> {
        crate::notify::Setup {
            settings: &self.notify,
            send_notification: self.send_notification,
            recipient_emails: &self.recipient_emails,
            email_sender: self.email_sender.as_deref(),
            subject_prefix: &self.subject_prefix,
            url_prefix: &self.url_prefix,
        }
    }
}

const BOOL_REASON: &str = "expected true/false, 1/0, yes/no or on/off";

fn invalid(name: &'static str, value: String, reason: &str) -> InitError {
    InitError::InvalidSetting { name, value, reason: reason.to_owned() }
}

fn split_list(v: &str) -> Vec<String> {
    v.split(',').map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty()).collect()
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" | "" => Some(false),
        _ => None,
    }
}

fn looks_like_email(s: &str) -> bool {
    let s = s.trim();
    matches!(s.split_once('@'), Some((user, host)) if !user.is_empty() && !host.is_empty() && !s.contains(char::is_whitespace))
}

fn check_prefix(p: &str) -> Result<String, &'static str> {
    let p = p.trim().trim_end_matches('/');
    if !p.is_empty() && !p.starts_with('/') {
        return Err("the URL prefix must start with '/'");
    }
    if p.contains(['?', '#', ' ']) {
        return Err("the URL prefix must be a plain path");
    }
    Ok(p.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Result<Config, InitError> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(a, b)| ((*a).into(), (*b).into())).collect();
        Config::from_lookup(|n| pairs.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()))
    }

    #[test]
    fn reads_the_seed_settings() {
        let c = env(&[
            ("APP_ERROR_MASKED_KEY_HAS", "Password, card"),
            ("APP_ERROR_MASK_WITH", "XXX"),
            ("APP_ERROR_URL_PREFIX", "/errors/"),
            ("APP_ERROR_SEND_NOTIFICATION", "yes"),
            ("APP_ERROR_RECIPIENT_EMAIL", "a@example.com,b@example.com"),
            ("EXCEPTION_APP_DEFAULT_LIST_SIZE", "25"),
            ("TRACK_ALL_EXCEPTIONS", "1"),
            ("APP_ERROR_DB", "postgres://u@h/db"),
        ])
        .unwrap();
        assert_eq!(c.masked_keys, ["password", "card"]);
        assert_eq!(c.mask_with, "XXX");
        assert_eq!(c.get_url_prefix(), "/errors");
        assert!(c.send_notification && c.track_all);
        assert_eq!(c.recipient_emails.len(), 2);
        assert_eq!(c.list_size, 25);
        assert_eq!(c.database, Database::Postgres("postgres://u@h/db".into()));
    }

    #[test]
    fn a_bad_value_names_the_variable_and_the_value() {
        let e = env(&[("EXCEPTION_APP_DEFAULT_LIST_SIZE", "ten")]).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("EXCEPTION_APP_DEFAULT_LIST_SIZE") && text.contains("\"ten\""), "{text}");
        let e = env(&[("TRACK_ALL_EXCEPTIONS", "maybe")]).unwrap_err();
        assert!(matches!(e, InitError::InvalidSetting { name: "TRACK_ALL_EXCEPTIONS", .. }));
        assert!(env(&[("APP_ERROR_URL_PREFIX", "dev")]).is_err());
    }

    #[test]
    fn key_value_strings_are_postgres_and_debug_masks_passwords() {
        let kv = "host=db user=app password=s3cret dbname=errors";
        assert_eq!(Database::parse(kv), Database::Postgres(kv.into()));
        assert_eq!(Database::parse(" dbname=errors"), Database::Postgres(" dbname=errors".into()));
        assert_eq!(Database::parse("a=b.sqlite"), Database::Sqlite("a=b.sqlite".into()));
        for db in [kv, "postgres://app:s3cret@db/errors"] {
            let text = format!("{:?}", Database::parse(db));
            assert!(!text.contains("s3cret") && text.contains("****"), "{text}");
            let text = format!("{:?}", Config::default().database(db));
            assert!(!text.contains("s3cret"), "{text}");
        }
    }

    #[test]
    fn an_empty_key_list_turns_masking_off() {
        assert!(env(&[("APP_ERROR_MASKED_KEY_HAS", "")]).unwrap().masked_keys.is_empty());
    }
}
