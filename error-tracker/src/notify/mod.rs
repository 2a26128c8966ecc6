//! Notifications and tickets: the [`Notifier`] and [`Ticketing`] traits,
//! the policy that decides when a group is worth a message, and the
//! background worker that delivers it.
//!
//! The writer hands the worker the latest (already masked) occurrence of each
//! group the policy picks: a new group, a regression (an occurrence of a
//! resolved group), and optionally every N-th occurrence
//! ([`Config::notify_every`]) or a reminder at most once per group per
//! interval ([`Config::notify_interval`]). Delivery runs on its own thread
//! with a bounded queue, 3 tries with backoff, and never blocks the writer or
//! the application; failures are counted and the last one is kept in
//! [`status`], for the UI to show.
//!
//! ```
//! use error_tracker::notify::{Notification, NotifyError};
//! use error_tracker::{Config, Notifier};
//!
//! /// Prints each notification: a stand-in for a chat or pager integration.
//! struct Print;
//! impl Notifier for Print {
//!     fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
//!         println!("{}\n{}", n.subject, n.body);
//!         Ok(())
//!     }
//! }
//!
//! let config = Config::default().subject_prefix("shop").notifier(Print).notify_every(1000);
//! # let _ = config;
//! ```

use std::collections::HashMap;
use std::fmt;
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use serde::Serialize;

use crate::config::{Config, InitError};
use crate::occurrence::Occurrence;
use crate::reentry::{self, State};
use crate::store::{ChangeKind, GroupChange, GroupSummary, Grouped, Status, Store, render_traceback};
use crate::timestamp::Timestamp;

#[cfg(feature = "email")]
mod email;
#[cfg(any(feature = "webhook", feature = "ticketing"))]
mod http;
#[cfg(feature = "ticketing")]
pub mod ticketing;
#[cfg(feature = "webhook")]
mod webhook;

#[cfg(feature = "email")]
pub use email::EmailNotifier;
#[cfg(feature = "webhook")]
pub use webhook::WebhookNotifier;

/// How many deliveries may wait for the worker; past that they are dropped
/// (and counted), so a dead endpoint never holds memory or the writer.
const QUEUE_CAPACITY: usize = 256;
/// How many groups the interval policy remembers before it forgets the oldest.
const MAX_REMEMBERED: usize = 10_000;
/// The longest subject line, in characters.
const MAX_SUBJECT: usize = 200;

/// Sends a message about a group: the seed's `NotificationMixin`.
///
/// Called on the notification worker thread, never on the request path.
/// Everything in the [`Notification`] is already masked. Return an error to
/// have the delivery retried (3 tries in all by default).
pub trait Notifier: Send + Sync + 'static {
    /// Delivers one notification.
    fn notify(&self, notification: &Notification) -> Result<(), NotifyError>;
}

/// Opens and updates tickets in a bug tracker: the seed's `TicketingMixin`.
///
/// The reference that [`raise_ticket`](Self::raise_ticket) returns is kept on
/// the group ([`GroupSummary::ticket_raised`]); later notifications of the
/// same group call [`update_ticket`](Self::update_ticket) with it instead of
/// opening a new ticket.
pub trait Ticketing: Send + Sync + 'static {
    /// Opens a ticket for a group seen for the first time (or that has none
    /// yet) and returns its reference: an id or a URL.
    fn raise_ticket(&self, notification: &Notification) -> Result<String, NotifyError>;

    /// Updates the ticket `reference` of a group that happened again (a
    /// comment or a counter). On a regression ([`Reason::Regressed`]) the
    /// ticket should be reopened.
    fn update_ticket(&self, reference: &str, notification: &Notification) -> Result<(), NotifyError>;
}

/// Why a group is notified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// The first occurrence of the group.
    New,
    /// An occurrence of a resolved group.
    Regressed,
    /// The group's count reached a multiple of [`Config::notify_every`].
    Every(u64),
    /// The group kept happening for longer than [`Config::notify_interval`]
    /// since it was last notified.
    Reminder,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::New => f.write_str("new error"),
            Reason::Regressed => f.write_str("regression: a resolved error happened again"),
            Reason::Every(n) => write!(f, "reached {n} occurrences"),
            Reason::Reminder => f.write_str("still happening"),
        }
    }
}

/// What a [`Notifier`] or [`Ticketing`] receives. Built only from masked data.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Notification {
    /// Why it is sent.
    pub reason: Reason,
    /// The group: exception, message, count, first and last seen, status, ticket.
    pub group: GroupSummary,
    /// The URL of the group's page in the UI: `<ui base URL><url prefix>/group/<hash>`, the detail page of error-tracker-ui.
    pub url: String,
    /// The latest occurrence, masked.
    pub occurrence: Occurrence,
    /// `[<APP_ERROR_SUBJECT_PREFIX>] [METHOD] path ExceptionName: message`, on one line.
    pub subject: String,
    /// A plain-text body: the counts, the link and the traceback with locals.
    pub body: String,
}

impl Notification {
    /// Builds the notification of `group` from its latest masked occurrence.
    pub fn new(reason: Reason, group: GroupSummary, occurrence: Occurrence, subject_prefix: &str, url: String) -> Self {
        let subject = subject_line(subject_prefix, &occurrence);
        let mut n = Notification { reason, group, url, occurrence, subject, body: String::new() };
        n.body = n.plain_body();
        n
    }

    fn plain_body(&self) -> String {
        let o = &self.occurrence;
        let mut s = String::new();
        let _ = writeln!(s, "{}: {}\n", o.exception_name, o.message);
        for (k, v) in self.facts() {
            let _ = writeln!(s, "{k:<12}{v}");
        }
        if !o.extra.is_empty() {
            s.push_str("\nExtra values:\n");
            for v in &o.extra {
                let _ = writeln!(s, "    {} = {}", v.name, v.value);
            }
        }
        let _ = writeln!(s, "\n{}", render_traceback(o));
        s
    }

    /// The facts shown at the top of every body, as (label, value).
    fn facts(&self) -> Vec<(&'static str, String)> {
        let (g, o) = (&self.group, &self.occurrence);
        let mut v = vec![
            ("Why:", self.reason.to_string()),
            ("Count:", g.count.to_string()),
            ("First seen:", g.created_on.to_string()),
            ("Last seen:", g.last_seen.to_string()),
            ("Host:", o.host.clone()),
        ];
        if let Some(r) = &o.request {
            v.push(("Request:", format!("{} {}", r.method, r.url)));
        }
        if let Some(rel) = &o.release {
            v.push(("Release:", rel.clone()));
        }
        v.push(("Details:", self.url.clone()));
        v
    }

    /// The same content as [`body`](Self::body) as an HTML document, every
    /// value escaped.
    pub fn html_body(&self) -> String {
        let o = &self.occurrence;
        let mut s = String::from("<!DOCTYPE html>\n<html><body>\n");
        let _ = writeln!(s, "<h2>{}: {}</h2>", escape_html(&o.exception_name), escape_html(&o.message));
        s.push_str("<table>\n");
        for (k, v) in self.facts() {
            let v = if k == "Details:" { format!("<a href=\"{0}\">{0}</a>", escape_html(&v)) } else { escape_html(&v) };
            let _ = writeln!(s, "<tr><th align=\"left\">{}</th><td>{v}</td></tr>", escape_html(k));
        }
        for v in &o.extra {
            let _ = writeln!(
                s,
                "<tr><th align=\"left\">{}</th><td>{}</td></tr>",
                escape_html(&v.name),
                escape_html(&v.value.to_string())
            );
        }
        s.push_str("</table>\n");
        let _ = writeln!(s, "<pre>{}</pre>", escape_html(&render_traceback(o)));
        s.push_str("</body></html>\n");
        s
    }
}

/// The subject line: `[prefix] [METHOD] path ExceptionName: message`, the
/// bracketed parts left out when empty, on one line, at most 200 characters.
fn subject_line(prefix: &str, o: &Occurrence) -> String {
    let mut s = String::new();
    if !prefix.is_empty() {
        let _ = write!(s, "[{prefix}] ");
    }
    if let Some(r) = &o.request {
        let _ = write!(s, "[{}] {} ", r.method, r.route.as_deref().unwrap_or(&r.path));
    }
    let _ = write!(s, "{}: {}", o.exception_name, o.message);
    // One line: a newline in a header is how mail headers get injected.
    let one_line: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    match one_line.char_indices().nth(MAX_SUBJECT) {
        Some((at, _)) => format!("{}…", &one_line[..at]),
        None => one_line,
    }
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Why a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotifyError {
    /// The peer could not be reached, or did not answer in time.
    Transport {
        /// The peer (scheme, host and port only: paths of webhook URLs hold secrets).
        peer: String,
        /// The cause.
        reason: String,
    },
    /// An HTTP peer answered with a status that is not a success.
    Status {
        /// The peer (scheme, host and port only).
        peer: String,
        /// The HTTP status.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// The peer answered in a way that cannot be used (e.g. no ticket id).
    BadResponse {
        /// The peer (scheme, host and port only).
        peer: String,
        /// What is wrong.
        reason: String,
    },
    /// The mail server refused the message, or the message cannot be built.
    Smtp(String),
    /// The notifier panicked.
    Panicked,
}

impl fmt::Display for NotifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotifyError::Transport { peer, reason } => write!(f, "cannot reach {peer}: {reason}"),
            NotifyError::Status { peer, status, body } => write!(f, "{peer} answered HTTP {status}: {body}"),
            NotifyError::BadResponse { peer, reason } => write!(f, "unexpected answer from {peer}: {reason}"),
            NotifyError::Smtp(e) => write!(f, "SMTP: {e}"),
            NotifyError::Panicked => f.write_str("the notifier panicked"),
        }
    }
}

impl std::error::Error for NotifyError {}

/// How mail reaches the SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SmtpTls {
    /// Plain text (a local relay or a test server).
    None,
    /// Plain connection upgraded with `STARTTLS` (usually port 587). The default.
    #[default]
    StartTls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

/// The SMTP server for notification emails.
///
/// [`Config::from_env`] reads `APP_ERROR_SMTP_HOST`, `APP_ERROR_SMTP_PORT`,
/// `APP_ERROR_SMTP_USER`, `APP_ERROR_SMTP_PASSWORD` and `APP_ERROR_SMTP_TLS`
/// (`none`, `starttls` or `tls`).
///
/// ```
/// use error_tracker::notify::{SmtpSettings, SmtpTls};
/// let smtp = SmtpSettings::new("smtp.example.com", 587).credentials("alerts", "app-password");
/// assert_eq!(smtp.tls, SmtpTls::StartTls);
/// assert!(!format!("{smtp:?}").contains("app-password"));
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SmtpSettings {
    /// The server's host name.
    pub host: String,
    /// The server's port.
    pub port: u16,
    /// How the connection is encrypted.
    pub tls: SmtpTls,
    /// The user name, when the server wants one.
    pub username: Option<String>,
    /// The password.
    pub password: Option<String>,
    /// The longest wait for the server on each step.
    pub timeout: Duration,
}

impl SmtpSettings {
    /// A server at `host:port` with `STARTTLS`, no credentials and a 10 s timeout.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
            tls: SmtpTls::default(),
            username: None,
            password: None,
            timeout: Duration::from_secs(10),
        }
    }

    /// Sets how the connection is encrypted.
    pub fn tls(mut self, tls: SmtpTls) -> Self {
        self.tls = tls;
        self
    }

    /// Sets the user name and password.
    pub fn credentials(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self.password = Some(password.into());
        self
    }

    /// Sets the timeout of each step of the conversation.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| crate::DEFAULT_MASK_WITH))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The notification settings held by [`Config`].
#[derive(Clone, Default)]
pub(crate) struct NotifySettings {
    notifiers: Vec<Arc<dyn Notifier>>,
    ticketing: Option<Arc<dyn Ticketing>>,
    every: Option<u64>,
    interval: Option<Duration>,
    smtp: Option<SmtpSettings>,
    ui_base_url: String,
    retry: Option<(u32, Duration)>,
}

impl fmt::Debug for NotifySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifySettings")
            .field("notifiers", &self.notifiers.len())
            .field("ticketing", &self.ticketing.is_some())
            .field("every", &self.every)
            .field("interval", &self.interval)
            .field("smtp", &self.smtp)
            .field("ui_base_url", &self.ui_base_url)
            .field("retry", &self.retry)
            .finish()
    }
}

impl NotifySettings {
    /// Reads `APP_ERROR_SMTP_*`, `APP_ERROR_NOTIFY_EVERY`,
    /// `APP_ERROR_NOTIFY_INTERVAL_SECS` and `APP_ERROR_UI_BASE_URL`.
    pub(crate) fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, InitError> {
        let invalid = |name: &'static str, value: String, reason: &str| InitError::InvalidSetting {
            name,
            value,
            reason: reason.to_owned(),
        };
        let mut s = NotifySettings::default();
        if let Some(host) = lookup("APP_ERROR_SMTP_HOST").filter(|h| !h.trim().is_empty()) {
            let tls = match lookup("APP_ERROR_SMTP_TLS") {
                None => SmtpTls::default(),
                Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                    "none" | "off" | "plain" | "" => SmtpTls::None,
                    "starttls" => SmtpTls::StartTls,
                    "tls" | "ssl" => SmtpTls::Tls,
                    _ => return Err(invalid("APP_ERROR_SMTP_TLS", v, "expected none, starttls or tls")),
                },
            };
            let default_port = match tls {
                SmtpTls::None => 25,
                SmtpTls::StartTls => 587,
                SmtpTls::Tls => 465,
            };
            let port = match lookup("APP_ERROR_SMTP_PORT") {
                None => default_port,
                Some(v) => match v.trim().parse::<u16>() {
                    Ok(p) if p > 0 => p,
                    _ => return Err(invalid("APP_ERROR_SMTP_PORT", v, "expected a port number from 1 to 65535")),
                },
            };
            let mut smtp = SmtpSettings::new(host.trim(), port).tls(tls);
            smtp.username = lookup("APP_ERROR_SMTP_USER").filter(|u| !u.is_empty());
            smtp.password = lookup("APP_ERROR_SMTP_PASSWORD").filter(|p| !p.is_empty());
            s.smtp = Some(smtp);
        }
        if let Some(v) = lookup("APP_ERROR_NOTIFY_EVERY") {
            s.every = match v.trim().parse::<u64>() {
                Ok(0) => None,
                Ok(n) => Some(n),
                Err(_) => return Err(invalid("APP_ERROR_NOTIFY_EVERY", v, "expected a whole number (0 turns it off)")),
            };
        }
        if let Some(v) = lookup("APP_ERROR_NOTIFY_INTERVAL_SECS") {
            s.interval = match v.trim().parse::<u64>() {
                Ok(0) => None,
                Ok(n) => Some(Duration::from_secs(n)),
                Err(_) => {
                    return Err(invalid(
                        "APP_ERROR_NOTIFY_INTERVAL_SECS",
                        v,
                        "expected whole seconds (0 turns it off)",
                    ));
                }
            };
        }
        if let Some(v) = lookup("APP_ERROR_UI_BASE_URL") {
            s.ui_base_url = v.trim().trim_end_matches('/').to_owned();
        }
        Ok(s)
    }
}

/// Notification settings. Without any of them, nothing is sent.
impl Config {
    /// Adds a notifier and turns notifications on. Several notifiers all
    /// receive every notification.
    pub fn notifier(mut self, notifier: impl Notifier) -> Self {
        self.notify.notifiers.push(Arc::new(notifier));
        self.send_notification = true;
        self
    }

    /// Opens and updates tickets with `ticketing`.
    pub fn ticketing(mut self, ticketing: impl Ticketing) -> Self {
        self.notify.ticketing = Some(Arc::new(ticketing));
        self
    }

    /// Besides new groups and regressions, notifies each time a group's
    /// count reaches a multiple of `n` (`APP_ERROR_NOTIFY_EVERY`; 0 turns it off).
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

    /// How often a delivery is tried (default 3) and the pause after the
    /// first failure (default 1 s, doubled after each).
    pub fn notify_retry(mut self, tries: u32, backoff: Duration) -> Self {
        self.notify.retry = Some((tries.max(1), backoff));
        self
    }
}

/// What the notification worker did so far: counters and the last error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DeliveryStatus {
    /// Deliveries (notifications and ticket updates) that succeeded.
    pub sent: u64,
    /// Deliveries given up after every try.
    pub failed: u64,
    /// Tries that failed and were retried.
    pub retries: u64,
    /// Notifications dropped because the worker's queue was full.
    pub dropped: u64,
    /// Notifications waiting for the worker.
    pub pending: u64,
    /// The last failure, with its time.
    pub last_error: Option<(Timestamp, String)>,
}

/// The worker's counters, shared with [`status`] and [`flush`].
#[derive(Default)]
pub(crate) struct Shared {
    status: Mutex<DeliveryStatus>,
    idle: Condvar,
}

impl Shared {
    fn update(&self, f: impl FnOnce(&mut DeliveryStatus)) {
        let mut s = self.status.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut s);
        if s.pending == 0 {
            self.idle.notify_all();
        }
    }

    fn snapshot(&self) -> DeliveryStatus {
        self.status.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut s = self.status.lock().unwrap_or_else(|e| e.into_inner());
        while s.pending > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            s = self.idle.wait_timeout(s, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        true
    }
}

static SHARED: OnceLock<Arc<Shared>> = OnceLock::new();

/// What the notification worker did so far, or `None` before
/// [`init`](crate::init) and when no notifier or ticketing is configured.
///
/// ```
/// assert!(error_tracker::notify::status().is_none()); // not initialized here
/// ```
pub fn status() -> Option<DeliveryStatus> {
    SHARED.get().map(|s| s.snapshot())
}

/// Waits until the notifications queued so far are delivered or given up,
/// or `timeout` passes. Returns whether the queue is empty. Call
/// [`flush`](crate::flush) first so that the writer has queued them.
pub fn flush(timeout: Duration) -> bool {
    SHARED.get().is_none_or(|s| s.wait_idle(timeout))
}

/// One group to notify, handed from the writer to the worker.
struct Job {
    hash: String,
    reason: Reason,
    count: u64,
    occurrence: Occurrence,
}

/// The writer's side: the policy and the sending end of the worker's queue.
pub(crate) struct Dispatcher {
    every: Option<u64>,
    interval: Option<Duration>,
    last_sent: HashMap<String, Instant>,
    queue: Sender<Job>,
    shared: Arc<Shared>,
}

/// What the worker needs to deliver.
struct Worker {
    store: Arc<dyn Store>,
    notifiers: Vec<Arc<dyn Notifier>>,
    ticketing: Option<Arc<dyn Ticketing>>,
    subject_prefix: String,
    detail_url: String,
    tries: u32,
    backoff: Duration,
    shared: Arc<Shared>,
}

/// Starts the notification worker for the process when the configuration
/// asks for notifications or tickets; `None` when it does not.
pub(crate) fn start(config: &Config, store: &Arc<dyn Store>) -> Result<Option<Dispatcher>, InitError> {
    Dispatcher::start(config, store.clone(), || SHARED.get_or_init(Default::default).clone())
}

impl Dispatcher {
    fn start(
        config: &Config,
        store: Arc<dyn Store>,
        shared: impl FnOnce() -> Arc<Shared>,
    ) -> Result<Option<Self>, InitError> {
        let notifiers = notifiers(config)?;
        let ticketing = config.notify.ticketing.clone();
        if notifiers.is_empty() && ticketing.is_none() {
            return Ok(None);
        }
        let shared = shared();
        let (tries, backoff) = config.notify.retry.unwrap_or((3, Duration::from_secs(1)));
        let worker = Worker {
            store,
            notifiers,
            ticketing,
            subject_prefix: config.subject_prefix.clone(),
            detail_url: format!("{}{}", config.notify.ui_base_url, config.url_prefix),
            tries,
            backoff,
            shared: shared.clone(),
        };
        let (tx, rx) = crossbeam_channel::bounded(QUEUE_CAPACITY);
        std::thread::Builder::new()
            .name("error-tracker-notify".into())
            .spawn(move || reentry::with_state(State::Recording, || worker.run(&rx)))
            .map_err(InitError::Spawn)?;
        Ok(Some(Dispatcher {
            every: config.notify.every,
            interval: config.notify.interval,
            last_sent: HashMap::new(),
            queue: tx,
            shared,
        }))
    }

    /// Called by the writer after each stored batch: picks the groups the
    /// policy notifies and queues their latest occurrence, never blocking.
    pub(crate) fn after_write(&mut self, changes: &[GroupChange], batch: &[Grouped]) {
        let now = Instant::now();
        // Built on the first notified group only: most batches notify nothing.
        let mut latest: Option<HashMap<&str, &Grouped>> = None;
        for change in changes {
            let Some(reason) = self.decide(change, now) else { continue };
            let index = latest.get_or_insert_with(|| {
                let mut m: HashMap<&str, &Grouped> = HashMap::new();
                for g in batch {
                    let e = m.entry(g.hash.as_str()).or_insert(g);
                    if g.occurrence.timestamp >= e.occurrence.timestamp {
                        *e = g;
                    }
                }
                m
            });
            let Some(g) = index.get(change.hash.as_str()) else { continue };
            let job = Job { hash: change.hash.clone(), reason, count: change.count, occurrence: g.occurrence.clone() };
            self.shared.update(|s| s.pending += 1);
            if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = self.queue.try_send(job) {
                self.shared.update(|s| {
                    s.pending -= 1;
                    s.dropped += 1;
                });
            }
        }
    }

    /// The policy: new groups and regressions always; recurring groups on
    /// every N-th occurrence or once per interval, when configured.
    fn decide(&mut self, change: &GroupChange, now: Instant) -> Option<Reason> {
        let reason = match change.kind {
            ChangeKind::New => Some(Reason::New),
            ChangeKind::Regressed => Some(Reason::Regressed),
            ChangeKind::Recurring => {
                let before = change.count.saturating_sub(change.added);
                let every = self.every.filter(|n| before / n < change.count / n).map(|n| change.count / n * n);
                let due = self
                    .interval
                    .is_some_and(|i| self.last_sent.get(&change.hash).is_none_or(|at| now.duration_since(*at) >= i));
                every.map(Reason::Every).or(due.then_some(Reason::Reminder))
            }
        };
        if reason.is_some() && self.interval.is_some() {
            if self.last_sent.len() >= MAX_REMEMBERED {
                let i = self.interval.unwrap_or_default();
                self.last_sent.retain(|_, at| now.duration_since(*at) < i);
                if self.last_sent.len() >= MAX_REMEMBERED {
                    self.last_sent.clear();
                }
            }
            self.last_sent.insert(change.hash.clone(), now);
        }
        reason
    }
}

/// The configured notifiers, plus the email notifier when
/// `APP_ERROR_SEND_NOTIFICATION` asks for mail.
fn notifiers(config: &Config) -> Result<Vec<Arc<dyn Notifier>>, InitError> {
    if !config.send_notification {
        return Ok(Vec::new());
    }
    let mut list = config.notify.notifiers.clone();
    if list.is_empty() || !config.recipient_emails.is_empty() {
        list.push(email_notifier(config)?);
    }
    Ok(list)
}

#[cfg(feature = "email")]
fn email_notifier(config: &Config) -> Result<Arc<dyn Notifier>, InitError> {
    Ok(Arc::new(EmailNotifier::from_config(config)?))
}

#[cfg(not(feature = "email"))]
fn email_notifier(_: &Config) -> Result<Arc<dyn Notifier>, InitError> {
    Err(InitError::FeatureDisabled {
        feature: "email",
        needed_for: "APP_ERROR_SEND_NOTIFICATION with APP_ERROR_RECIPIENT_EMAIL".to_owned(),
    })
}

impl Worker {
    fn run(self, queue: &Receiver<Job>) {
        for job in queue {
            let hash = job.hash.clone();
            if catch_unwind(AssertUnwindSafe(|| self.deliver(job))).is_err() {
                self.failed(&format!("group {hash}"), &NotifyError::Panicked);
            }
            self.shared.update(|s| s.pending -= 1);
        }
    }

    fn deliver(&self, job: Job) {
        let group = match self.store.group(&job.hash) {
            Ok(Some(g)) => g.summary,
            // Deleted since, or the store is failing: notify from what the writer saw.
            _ => summary_of(&job),
        };
        if group.status == Status::Ignored && matches!(job.reason, Reason::Every(_) | Reason::Reminder) {
            return;
        }
        let url = format!("{}/group/{}", self.detail_url, job.hash);
        let n = Notification::new(job.reason, group, job.occurrence, &self.subject_prefix, url);
        let mut notified = false;
        for (i, notifier) in self.notifiers.iter().enumerate() {
            notified |= self.with_retries(&format!("notifier {}", i + 1), || notifier.notify(&n)).is_some();
        }
        if notified {
            self.stored("notification_sent", self.store.set_notification_sent(&job.hash, true));
        }
        if let Some(t) = &self.ticketing {
            match &n.group.ticket_raised {
                Some(reference) => {
                    self.with_retries(&format!("ticket {reference}"), || t.update_ticket(reference, &n));
                }
                None => {
                    if let Some(reference) = self.with_retries("new ticket", || t.raise_ticket(&n)) {
                        self.stored("ticket_raised", self.store.set_ticket(&job.hash, Some(&reference)));
                    }
                }
            }
        }
    }

    /// Tries `f` up to `tries` times, pausing with a doubling backoff.
    fn with_retries<T>(&self, what: &str, mut f: impl FnMut() -> Result<T, NotifyError>) -> Option<T> {
        let mut pause = self.backoff;
        for attempt in 1..=self.tries {
            let result = catch_unwind(AssertUnwindSafe(&mut f)).unwrap_or(Err(NotifyError::Panicked));
            match result {
                Ok(v) => {
                    self.shared.update(|s| s.sent += 1);
                    return Some(v);
                }
                Err(e) if attempt == self.tries => self.failed(what, &e),
                Err(e) => {
                    self.shared.update(|s| {
                        s.retries += 1;
                        s.last_error = Some((Timestamp::now(), format!("{what}: {e} (will retry)")));
                    });
                    std::thread::sleep(pause);
                    pause = pause.saturating_mul(2);
                }
            }
        }
        None
    }

    /// Makes a failure to record the outcome on the group visible: a lost
    /// ticket reference means a second ticket next time.
    fn stored(&self, column: &str, result: Result<bool, crate::StoreError>) {
        if let Err(e) = result {
            eprintln!("error-tracker: cannot record {column}: {e}");
            self.shared.update(|s| s.last_error = Some((Timestamp::now(), format!("cannot record {column}: {e}"))));
        }
    }

    fn failed(&self, what: &str, e: &NotifyError) {
        eprintln!("error-tracker: {what}: delivery failed after {} tries: {e}", self.tries);
        self.shared.update(|s| {
            s.failed += 1;
            s.last_error = Some((Timestamp::now(), format!("{what}: {e}")));
        });
    }
}

/// A group row made from the job alone, when the store cannot give it.
fn summary_of(job: &Job) -> GroupSummary {
    let o = &job.occurrence;
    GroupSummary {
        hash: job.hash.clone(),
        exception_name: o.exception_name.clone(),
        message: o.message.clone(),
        method: o.request.as_ref().map(|r| r.method.clone()),
        path: o.request.as_ref().map(|r| r.route.clone().unwrap_or_else(|| r.path.clone())),
        host: o.host.clone(),
        count: job.count,
        created_on: o.timestamp,
        last_seen: o.timestamp,
        status: Status::Unresolved,
        notification_sent: false,
        ticket_raised: None,
    }
}

/// `scheme://host[:port]` of a URL: what errors may show of it, since the
/// path of a webhook URL is often its secret.
#[cfg(any(feature = "webhook", feature = "ticketing"))]
pub(crate) fn peer_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or(authority);
    if scheme.is_empty() { host.to_owned() } else { format!("{scheme}://{host}") }
}

#[cfg(test)]
mod tests;
