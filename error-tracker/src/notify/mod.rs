//! Notifications and tickets: the [`Notifier`] and [`Ticketing`] traits,
//! the policy that decides when a group is worth a message, and the
//! background workers that deliver it.
//!
//! The writer hands the workers the latest (already masked) occurrence of
//! each group the policy picks: a new group, a regression (an occurrence of a
//! resolved group), and optionally every N-th occurrence
//! ([`Config::notify_every`]) or a reminder at most once per group per
//! interval ([`Config::notify_interval`]).
//!
//! Each channel (each notifier, and the ticketing) has its own bounded queue
//! and thread, so one that hangs delays no other. What a channel owes is
//! kept in the store's outbox (`notification_outbox`) until it is delivered:
//! a channel that fails every try (3 by default, with backoff) is down, and
//! what it owes is sent once it answers again, by this process or the next.
//! Every try of one notification carries the same id
//! ([`Notification::id`]): the `Message-ID` of an email, the
//! `Idempotency-Key` header of an HTTP request, so that a receiver can drop
//! a copy. A try that was sent but not answered in time is not repeated
//! ([`NotifyError::Unconfirmed`]). Nothing here blocks the writer or the
//! application; what happened is in [`status`], per channel, for the UI to show.
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

use std::fmt;
use std::fmt::Write as _;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use serde::{Deserialize, Serialize};

use crate::init_error::InitError;
use crate::occurrence::Occurrence;
use crate::store::{GroupSummary, Store, render_traceback};
use crate::timestamp::Timestamp;

#[cfg(feature = "email")]
mod email;
#[cfg(any(feature = "webhook", feature = "ticketing"))]
mod http;
#[cfg(feature = "ticketing")]
pub mod ticketing;
#[cfg(feature = "webhook")]
mod webhook;
mod worker;

pub(crate) use worker::Dispatcher;
use worker::Sink;

#[cfg(feature = "email")]
pub use email::EmailNotifier;
#[cfg(feature = "webhook")]
pub use webhook::WebhookNotifier;

/// The longest subject line, in characters.
const MAX_SUBJECT: usize = 200;

/// Sends a message about a group: the seed's `NotificationMixin`.
///
/// Called on the notifier's own worker thread, never on the request path.
/// Everything in the [`Notification`] is already masked. Return an error to
/// have the delivery retried (3 tries in a row by default, then again once
/// the channel answers; see [`NotifyError::is_retryable`]). Every try of one
/// notification has the same [`Notification::id`]: pass it on to the
/// receiver so that it can drop copies.
pub trait Notifier: Send + Sync + 'static {
    /// Delivers one notification.
    fn notify(&self, notification: &Notification) -> Result<(), NotifyError>;

    /// The channel's name in [`status`], errors and the store's outbox
    /// (`email`, `webhook`, `slack` for the built-ins). Keep it stable:
    /// what a channel owes is found again by name after a restart.
    fn channel_name(&self) -> String {
        "notifier".to_owned()
    }
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

    /// The channel's name in [`status`], errors and the store's outbox
    /// (`github`, `jira`, `ticket-webhook` for the built-ins).
    fn channel_name(&self) -> String {
        "ticketing".to_owned()
    }
}

/// Why a group is notified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// The first occurrence of the group.
    New,
    /// An occurrence of a resolved group.
    Regressed,
    /// The group's count reached a multiple of [`Config::notify_every`].
    Every(u64),
    /// One write took the count past several multiples of `every` (a
    /// storm): one message for all of them, from the `first` to the `last`.
    Multiples {
        /// The first multiple crossed.
        first: u64,
        /// The last multiple crossed.
        last: u64,
        /// [`Config::notify_every`].
        every: u64,
    },
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
            Reason::Multiples { first, last, every } => write!(
                f,
                "reached the {} to {} occurrences ({} multiples of {every}, folded into this message)",
                Ordinal(*first),
                Ordinal(*last),
                (last - first) / every.max(&1) + 1
            ),
            Reason::Reminder => f.write_str("still happening"),
        }
    }
}

/// `1st`, `2nd`, `3rd`, `11th`, `1000th`.
struct Ordinal(u64);

impl fmt::Display for Ordinal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        let suffix = match (n % 10, n % 100) {
            (_, 11..=13) => "th",
            (1, _) => "st",
            (2, _) => "nd",
            (3, _) => "rd",
            _ => "th",
        };
        write!(f, "{n}{suffix}")
    }
}

impl Reason {
    /// The multiples of `every` that a count going from `before` to `after`
    /// crosses: none, one ([`Reason::Every`]) or several, folded
    /// ([`Reason::Multiples`]).
    ///
    /// ```
    /// use error_tracker::notify::Reason;
    /// assert_eq!(Reason::multiples_crossed(1000, 998, 999), None);
    /// assert_eq!(Reason::multiples_crossed(1000, 999, 1500), Some(Reason::Every(1000)));
    /// let storm = Reason::multiples_crossed(1000, 1, 10_000).unwrap();
    /// assert_eq!(storm, Reason::Multiples { first: 1000, last: 10_000, every: 1000 });
    /// assert!(storm.to_string().contains("1000th to 10000th"));
    /// ```
    pub fn multiples_crossed(every: u64, before: u64, after: u64) -> Option<Reason> {
        if every == 0 || before / every >= after / every {
            return None;
        }
        let first = (before / every + 1) * every;
        let last = after / every * every;
        Some(if first == last { Reason::Every(last) } else { Reason::Multiples { first, last, every } })
    }
}

/// What a [`Notifier`] or [`Ticketing`] receives. Built only from masked data.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Notification {
    /// The notification's id, the same on every try and every channel: the
    /// built-ins send it as the email's `Message-ID`
    /// (`<id@error-tracker>`) and the `Idempotency-Key` header of HTTP
    /// requests, so that a receiver can drop a copy.
    pub id: String,
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
        let id = uuid::Uuid::new_v4().to_string();
        let mut n = Notification { id, reason, group, url, occurrence, subject, body: String::new() };
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
    /// The mail server refused the message for good (a 5xx reply), or the
    /// message cannot be built.
    Smtp(String),
    /// The mail server refused the message for now (a 4xx reply).
    SmtpTransient(String),
    /// The request or message was sent, but the peer did not answer within
    /// the timeout: it may have been delivered. The worker does not send it
    /// again (a retry of a slow peer makes copies); make the timeout longer
    /// (`APP_ERROR_SMTP_TIMEOUT_SECS`, `APP_ERROR_HTTP_TIMEOUT_SECS`) for a peer that is slow.
    Unconfirmed {
        /// The peer (scheme, host and port only).
        peer: String,
        /// The cause.
        reason: String,
    },
    /// The notifier panicked.
    Panicked,
}

impl NotifyError {
    /// Whether another try may succeed: the peer could not be reached, an
    /// HTTP 408, 429 or 5xx, an SMTP 4xx. Refusals (other 4xx, an SMTP 5xx, an
    /// answer that cannot be used) are given up at once.
    pub fn is_retryable(&self) -> bool {
        match self {
            NotifyError::Transport { .. } | NotifyError::SmtpTransient(_) => true,
            NotifyError::Status { status, .. } => matches!(status, 408 | 429 | 500..),
            _ => false,
        }
    }

    /// Whether the peer may have it although the try failed
    /// ([`Unconfirmed`](NotifyError::Unconfirmed)).
    pub fn may_have_been_delivered(&self) -> bool {
        matches!(self, NotifyError::Unconfirmed { .. })
    }
}

impl fmt::Display for NotifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotifyError::Transport { peer, reason } => write!(f, "cannot reach {peer}: {reason}"),
            NotifyError::Status { peer, status, body } => write!(f, "{peer} answered HTTP {status}: {body}"),
            NotifyError::BadResponse { peer, reason } => write!(f, "unexpected answer from {peer}: {reason}"),
            NotifyError::Smtp(e) => write!(f, "SMTP: {e}"),
            NotifyError::SmtpTransient(e) => write!(f, "SMTP, refused for now: {e}"),
            NotifyError::Unconfirmed { peer, reason } => write!(f, "no answer from {peer} in time: {reason}"),
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
    pub(crate) notifiers: Vec<Arc<dyn Notifier>>,
    pub(crate) ticketing: Option<Arc<dyn Ticketing>>,
    pub(crate) every: Option<u64>,
    pub(crate) interval: Option<Duration>,
    pub(crate) smtp: Option<SmtpSettings>,
    pub(crate) ui_base_url: String,
    pub(crate) retry: Option<(u32, Duration)>,
    pub(crate) queue_size: Option<usize>,
    /// `APP_ERROR_SEND_NOTIFICATION=false` or `send_notification(false)`:
    /// nothing is sent, whatever notifiers and ticketing the code gives.
    pub(crate) off: bool,
    /// The channels named by the environment (`APP_ERROR_WEBHOOK_URL`, …).
    env: EnvChannels,
}

/// The channels and client settings that `APP_ERROR_*` variables give.
#[derive(Clone, Default)]
struct EnvChannels {
    webhook_url: Option<String>,
    slack_url: Option<String>,
    http_timeout: Option<Duration>,
    github: Option<(String, String)>,
    github_api_url: Option<String>,
    jira: Option<(String, String, String, String)>,
    ticket_webhook_url: Option<String>,
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
            .field("queue_size", &self.queue_size)
            .field("off", &self.off)
            // URLs of hooks hold their secret in the path: only whether they are set.
            .field("webhook_url", &self.env.webhook_url.is_some())
            .field("slack_url", &self.env.slack_url.is_some())
            .field("http_timeout", &self.env.http_timeout)
            .field("github", &self.env.github.as_ref().map(|(repo, _)| repo))
            .field("github_api_url", &self.env.github_api_url)
            .field("jira", &self.env.jira.as_ref().map(|(base, project, ..)| (base, project)))
            .field("ticket_webhook_url", &self.env.ticket_webhook_url.is_some())
            .finish()
    }
}

/// The default queue size of each channel.
const DEFAULT_QUEUE_SIZE: usize = 256;

impl NotifySettings {
    /// The tries and the first pause (`APP_ERROR_NOTIFY_RETRIES`,
    /// `APP_ERROR_NOTIFY_BACKOFF_MS`; 3 and 1 s by default).
    pub(crate) fn retry(&self) -> (u32, Duration) {
        self.retry.unwrap_or((3, Duration::from_secs(1)))
    }

    /// Each channel's queue size (`APP_ERROR_NOTIFY_QUEUE_SIZE`, default 256).
    pub(crate) fn queue_size(&self) -> usize {
        self.queue_size.unwrap_or(DEFAULT_QUEUE_SIZE)
    }

    /// Reads every `APP_ERROR_*` variable of notifications (the README's
    /// table lists them).
    pub(crate) fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, InitError> {
        let invalid = |name: &'static str, value: String, reason: &str| InitError::InvalidSetting {
            name,
            value,
            reason: reason.to_owned(),
        };
        // A set, non-blank value.
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let number = |name: &'static str, reason: &str| -> Result<Option<u64>, InitError> {
            match lookup(name) {
                None => Ok(None),
                Some(v) => v.trim().parse::<u64>().map(Some).map_err(|_| invalid(name, v, reason)),
            }
        };
        let url = |name: &'static str| -> Result<Option<String>, InitError> {
            match get(name) {
                Some(u) if !(u.starts_with("http://") || u.starts_with("https://")) => {
                    Err(invalid(name, crate::mask::mask_url_userinfo(&u), "expected an http:// or https:// URL"))
                }
                u => Ok(u.map(|u| u.trim_end_matches('/').to_owned())),
            }
        };
        let mut s = NotifySettings::default();
        if let Some(host) = get("APP_ERROR_SMTP_HOST") {
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
            let mut smtp = SmtpSettings::new(host, port).tls(tls);
            smtp.username = lookup("APP_ERROR_SMTP_USER").filter(|u| !u.is_empty());
            smtp.password = lookup("APP_ERROR_SMTP_PASSWORD").filter(|p| !p.is_empty());
            match number("APP_ERROR_SMTP_TIMEOUT_SECS", "expected whole seconds, at least 1")? {
                Some(0) => {
                    return Err(invalid(
                        "APP_ERROR_SMTP_TIMEOUT_SECS",
                        "0".into(),
                        "expected whole seconds, at least 1",
                    ));
                }
                Some(n) => smtp.timeout = Duration::from_secs(n),
                None => {}
            }
            s.smtp = Some(smtp);
        }
        s.every = number("APP_ERROR_NOTIFY_EVERY", "expected a whole number (0 turns it off)")?.filter(|n| *n > 0);
        s.interval = number("APP_ERROR_NOTIFY_INTERVAL_SECS", "expected whole seconds (0 turns it off)")?
            .filter(|n| *n > 0)
            .map(Duration::from_secs);
        if let Some(v) = lookup("APP_ERROR_UI_BASE_URL") {
            s.ui_base_url = v.trim().trim_end_matches('/').to_owned();
        }
        let tries = number("APP_ERROR_NOTIFY_RETRIES", "expected a whole number of tries, at least 1")?;
        let backoff = number("APP_ERROR_NOTIFY_BACKOFF_MS", "expected whole milliseconds")?;
        if tries == Some(0) {
            return Err(invalid(
                "APP_ERROR_NOTIFY_RETRIES",
                "0".into(),
                "expected a whole number of tries, at least 1",
            ));
        }
        if tries.is_some() || backoff.is_some() {
            let (t, b) = s.retry();
            s.retry = Some((
                tries.map_or(t, |n| u32::try_from(n).unwrap_or(u32::MAX)),
                backoff.map_or(b, Duration::from_millis),
            ));
        }
        match number("APP_ERROR_NOTIFY_QUEUE_SIZE", "expected a whole number, at least 1")? {
            Some(0) => {
                return Err(invalid("APP_ERROR_NOTIFY_QUEUE_SIZE", "0".into(), "expected a whole number, at least 1"));
            }
            n => s.queue_size = n.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        }
        match number("APP_ERROR_HTTP_TIMEOUT_SECS", "expected whole seconds, at least 1")? {
            Some(0) => {
                return Err(invalid("APP_ERROR_HTTP_TIMEOUT_SECS", "0".into(), "expected whole seconds, at least 1"));
            }
            n => s.env.http_timeout = n.map(Duration::from_secs),
        }
        s.env.webhook_url = url("APP_ERROR_WEBHOOK_URL")?;
        s.env.slack_url = url("APP_ERROR_SLACK_WEBHOOK_URL")?;
        s.env.github_api_url = url("APP_ERROR_GITHUB_API_URL")?;
        s.env.ticket_webhook_url = url("APP_ERROR_TICKET_WEBHOOK_URL")?;
        match (get("APP_ERROR_GITHUB_REPO"), get("APP_ERROR_GITHUB_TOKEN")) {
            (Some(repo), Some(token)) if repo.split('/').count() == 2 => s.env.github = Some((repo, token)),
            (Some(repo), Some(_)) => return Err(invalid("APP_ERROR_GITHUB_REPO", repo, "expected owner/name")),
            (Some(_), None) => {
                return Err(invalid("APP_ERROR_GITHUB_TOKEN", String::new(), "needed with APP_ERROR_GITHUB_REPO"));
            }
            (None, Some(_)) => {
                return Err(invalid("APP_ERROR_GITHUB_REPO", String::new(), "needed with APP_ERROR_GITHUB_TOKEN"));
            }
            (None, None) => {}
        }
        let jira = ["APP_ERROR_JIRA_URL", "APP_ERROR_JIRA_PROJECT", "APP_ERROR_JIRA_EMAIL", "APP_ERROR_JIRA_TOKEN"];
        let given: Vec<Option<String>> = jira.iter().map(|n| get(n)).collect();
        if given.iter().any(Option::is_some) {
            if let Some(missing) = jira.iter().zip(&given).find(|(_, v)| v.is_none()).map(|(n, _)| *n) {
                return Err(invalid(missing, String::new(), "the four APP_ERROR_JIRA_* settings go together"));
            }
            let base = url("APP_ERROR_JIRA_URL")?.unwrap_or_default();
            let v = |i: usize| given[i].clone().unwrap_or_default();
            s.env.jira = Some((base, v(1), v(2), v(3)));
        }
        if [&s.env.github.is_some(), &s.env.jira.is_some(), &s.env.ticket_webhook_url.is_some()]
            .iter()
            .filter(|b| ***b)
            .count()
            > 1
        {
            return Err(invalid(
                "APP_ERROR_TICKET_WEBHOOK_URL",
                String::new(),
                "set one ticketing backend: APP_ERROR_GITHUB_*, APP_ERROR_JIRA_* or APP_ERROR_TICKET_WEBHOOK_URL",
            ));
        }
        Ok(s)
    }

    /// Whether the environment names a channel (a webhook, Slack or a ticket system).
    pub(crate) fn env_names_a_channel(&self) -> bool {
        let e = &self.env;
        e.webhook_url.is_some()
            || e.slack_url.is_some()
            || e.github.is_some()
            || e.jira.is_some()
            || e.ticket_webhook_url.is_some()
    }
}

/// What the notification channels are set up from: the notification
/// settings, and the few general ones they read. The configuration builds
/// it ([`Config`](crate::Config) is above this module).
pub(crate) struct Setup<'a> {
    pub(crate) settings: &'a NotifySettings,
    pub(crate) send_notification: bool,
    pub(crate) recipient_emails: &'a [String],
    #[cfg_attr(not(feature = "email"), allow(dead_code))]
    pub(crate) email_sender: Option<&'a str>,
    pub(crate) subject_prefix: &'a str,
    pub(crate) url_prefix: &'a str,
}

/// What one channel did so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ChannelStatus {
    /// The channel: `email`, `webhook`, `slack`, `github`, `jira`,
    /// `ticket-webhook`, a notifier's own [`Notifier::channel_name`]; `-2`,
    /// `-3` for the second and third of a kind.
    pub name: String,
    /// Notifications delivered (a ticket opened or updated counts as one).
    pub sent: u64,
    /// Notifications given up: refused in a way a retry cannot change (an
    /// HTTP 4xx, an SMTP 5xx).
    pub failed: u64,
    /// Tries that failed and were retried at once.
    pub retries: u64,
    /// Sent, but the peer did not answer in time: it may have them. Not
    /// sent again (see [`NotifyError::Unconfirmed`]).
    pub unconfirmed: u64,
    /// Notifications dropped: only with a store that keeps no outbox, past
    /// the queue size.
    pub dropped: u64,
    /// Notifications that found the queue full and wait in the outbox.
    pub overflowed: u64,
    /// Notifications in the queue or being delivered.
    pub pending: u64,
    /// Notifications put aside while the channel is down, to be sent once it answers.
    pub waiting: u64,
    /// Since when the channel is down (every try of a notification failed), if it is.
    pub down_since: Option<Timestamp>,
    /// The last delivery.
    pub last_sent: Option<Timestamp>,
    /// The last failure, with its time, prefixed with the channel's name.
    pub last_error: Option<(Timestamp, String)>,
}

/// What the notification workers did so far: the sums over the channels,
/// the latest error, and each channel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DeliveryStatus {
    /// Deliveries (notifications and ticket updates) that succeeded.
    pub sent: u64,
    /// Deliveries given up.
    pub failed: u64,
    /// Tries that failed and were retried.
    pub retries: u64,
    /// Deliveries that may have arrived (no answer in time), not sent again.
    pub unconfirmed: u64,
    /// Notifications dropped (only with a store that keeps no outbox).
    pub dropped: u64,
    /// Notifications waiting: queued, being delivered, or put aside while
    /// their channel is down.
    pub pending: u64,
    /// The latest failure of any channel, with its time, naming the channel.
    pub last_error: Option<(Timestamp, String)>,
    /// Each channel, in the order they were configured.
    pub channels: Vec<ChannelStatus>,
}

/// The workers' counters, shared with [`status`] and [`flush`].
#[derive(Default)]
pub(crate) struct Shared {
    channels: Mutex<Vec<ChannelStatus>>,
    idle: Condvar,
    /// Per channel: the outbox holds something its queue had no room for.
    rescan: Mutex<Vec<bool>>,
    /// Each channel's queue, for [`release_queued`].
    receivers: Mutex<Vec<(String, Receiver<worker::Job>)>>,
    /// Per channel: the id of the notification being delivered, for [`release_queued`].
    in_flight: Mutex<Vec<Option<String>>>,
}

impl Shared {
    fn set_channels(&self, names: Vec<String>) {
        *self.rescan.lock().unwrap_or_else(|e| e.into_inner()) = vec![false; names.len()];
        *self.in_flight.lock().unwrap_or_else(|e| e.into_inner()) = vec![None; names.len()];
        *self.channels.lock().unwrap_or_else(|e| e.into_inner()) =
            names.into_iter().map(ChannelStatus::named).collect();
    }

    fn keep_receiver(&self, name: &str, rx: Receiver<worker::Job>) {
        self.receivers.lock().unwrap_or_else(|e| e.into_inner()).push((name.to_owned(), rx));
    }

    fn update(&self, channel: usize, f: impl FnOnce(&mut ChannelStatus)) {
        let mut all = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = all.get_mut(channel) {
            f(s);
        }
        if all.iter().all(|s| s.pending == 0 && s.waiting == 0) {
            self.idle.notify_all();
        }
    }

    fn error_all(&self, message: String) {
        eprintln!("error-tracker: {message}");
        let at = Timestamp::now();
        for s in self.channels.lock().unwrap_or_else(|e| e.into_inner()).iter_mut() {
            s.last_error = Some((at, message.clone()));
        }
    }

    fn wake_rescan(&self, channel: usize) {
        if let Some(f) = self.rescan.lock().unwrap_or_else(|e| e.into_inner()).get_mut(channel) {
            *f = true;
        }
    }

    fn set_in_flight(&self, channel: usize, id: Option<&str>) {
        if let Some(slot) = self.in_flight.lock().unwrap_or_else(|e| e.into_inner()).get_mut(channel) {
            *slot = id.map(str::to_owned);
        }
    }

    fn take_rescan(&self, channel: usize) -> bool {
        self.rescan.lock().unwrap_or_else(|e| e.into_inner()).get_mut(channel).is_some_and(std::mem::take)
    }

    fn snapshot(&self) -> DeliveryStatus {
        let channels = self.channels.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut s = DeliveryStatus::default();
        for c in &channels {
            s.sent += c.sent;
            s.failed += c.failed;
            s.retries += c.retries;
            s.unconfirmed += c.unconfirmed;
            s.dropped += c.dropped;
            s.pending += c.pending + c.waiting;
            if c.last_error.as_ref().is_some_and(|(at, _)| s.last_error.as_ref().is_none_or(|(l, _)| at >= l)) {
                s.last_error.clone_from(&c.last_error);
            }
        }
        s.channels = channels;
        s
    }

    fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut all = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        while all.iter().any(|s| s.pending > 0 || s.waiting > 0) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            all = self.idle.wait_timeout(all, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        true
    }
}

static SHARED: OnceLock<Arc<Shared>> = OnceLock::new();
static STORE: OnceLock<Arc<dyn Store>> = OnceLock::new();

/// What the notification workers did so far, or `None` before
/// [`init`](crate::init) and when no notifier or ticketing is configured.
///
/// ```
/// assert!(error_tracker::notify::status().is_none()); // not initialized here
/// ```
pub fn status() -> Option<DeliveryStatus> {
    SHARED.get().map(|s| s.snapshot())
}

/// Waits until the notifications queued so far are delivered or given up,
/// or `timeout` passes. Returns whether nothing is left: false also while a
/// channel is down with notifications put aside (they are kept in the
/// store, and sent when it answers, by this process or the next). Call
/// [`flush`](crate::flush) first so that the writer has queued them.
pub fn flush(timeout: Duration) -> bool {
    SHARED.get().is_none_or(|s| s.wait_idle(timeout))
}

/// At exit, after [`flush`] gave up: gives what still waits in the queues,
/// and what is being delivered, back to the store's outbox, so that the
/// next process sends it at once rather than after this one's claim
/// ([`worker::LEASE`]) runs out.
pub(crate) fn release_queued() {
    let (Some(shared), Some(store)) = (SHARED.get(), STORE.get()) else { return };
    let in_flight = shared.in_flight.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for (i, (name, rx)) in shared.receivers.lock().unwrap_or_else(|e| e.into_inner()).iter().enumerate() {
        while let Ok(job) = rx.try_recv() {
            let _ = store.release_pending_notification(name, job.id());
        }
        // Should it still arrive before the process ends, its finish ends the row all the same.
        if let Some(Some(id)) = in_flight.get(i) {
            let _ = store.release_pending_notification(name, id);
        }
    }
}

/// Starts the notification workers for the process when the configuration
/// asks for notifications or tickets; `None` when it does not.
pub(crate) fn start(config: &Setup<'_>, store: &Arc<dyn Store>) -> Result<Option<Dispatcher>, InitError> {
    let sinks = sinks(config)?;
    let started = Dispatcher::start(config, store.clone(), sinks, || SHARED.get_or_init(Default::default).clone())?;
    if started.is_some() {
        let _ = STORE.set(store.clone());
    }
    Ok(started)
}

/// Every channel of the configuration: the notifiers given in code, those
/// the environment names, the email notifier when
/// `APP_ERROR_SEND_NOTIFICATION` asks for mail, and the ticketing. None at
/// all when notifications are off: `APP_ERROR_SEND_NOTIFICATION=false` (or
/// `send_notification(false)`) wins over what the code gives.
pub(crate) fn sinks(config: &Setup<'_>) -> Result<Vec<Sink>, InitError> {
    let s = config.settings;
    if s.off || !(config.send_notification || s.ticketing.is_some() || s.env_names_a_channel()) {
        return Ok(Vec::new());
    }
    let mut list: Vec<Sink> = s.notifiers.iter().cloned().map(Sink::Notifier).collect();
    list.extend(env_notifiers(s)?.into_iter().map(Sink::Notifier));
    // Mail when recipients are given, or when notifications are asked for
    // and nothing else is configured (so that a missing SMTP server is named).
    let nothing_else = list.is_empty() && s.ticketing.is_none() && !s.env_names_a_channel();
    if config.send_notification && (nothing_else || !config.recipient_emails.is_empty()) {
        list.push(Sink::Notifier(email_notifier(config)?));
    }
    match &s.ticketing {
        Some(t) => list.push(Sink::Ticketing(t.clone())),
        None => {
            if let Some(t) = env_ticketing(s)? {
                list.push(Sink::Ticketing(t));
            }
        }
    }
    Ok(list)
}

#[cfg(feature = "webhook")]
fn env_notifiers(s: &NotifySettings) -> Result<Vec<Arc<dyn Notifier>>, InitError> {
    let timeout = s.env.http_timeout.unwrap_or(http::DEFAULT_TIMEOUT);
    let mut list: Vec<Arc<dyn Notifier>> = Vec::new();
    if let Some(url) = &s.env.webhook_url {
        list.push(Arc::new(WebhookNotifier::new(url.clone()).timeout(timeout)));
    }
    if let Some(url) = &s.env.slack_url {
        list.push(Arc::new(WebhookNotifier::new(url.clone()).slack().timeout(timeout)));
    }
    Ok(list)
}

#[cfg(not(feature = "webhook"))]
fn env_notifiers(s: &NotifySettings) -> Result<Vec<Arc<dyn Notifier>>, InitError> {
    let name = if s.env.webhook_url.is_some() { "APP_ERROR_WEBHOOK_URL" } else { "APP_ERROR_SLACK_WEBHOOK_URL" };
    if s.env.webhook_url.is_some() || s.env.slack_url.is_some() {
        return Err(InitError::FeatureDisabled { feature: "webhook", needed_for: name.to_owned() });
    }
    Ok(Vec::new())
}

#[cfg(feature = "ticketing")]
fn env_ticketing(s: &NotifySettings) -> Result<Option<Arc<dyn Ticketing>>, InitError> {
    use ticketing::{GithubIssues, Jira, WebhookTicketing};
    let timeout = s.env.http_timeout.unwrap_or(http::DEFAULT_TIMEOUT);
    if let Some((repo, token)) = &s.env.github {
        let mut g = GithubIssues::new(repo.clone(), token.clone()).timeout(timeout);
        if let Some(api) = &s.env.github_api_url {
            g = g.api_url(api.clone());
        }
        return Ok(Some(Arc::new(g)));
    }
    if let Some((base, project, email, token)) = &s.env.jira {
        return Ok(Some(Arc::new(Jira::new(base.clone(), project.clone(), email, token).timeout(timeout))));
    }
    if let Some(url) = &s.env.ticket_webhook_url {
        return Ok(Some(Arc::new(WebhookTicketing::new(url.clone()).timeout(timeout))));
    }
    Ok(None)
}

#[cfg(not(feature = "ticketing"))]
fn env_ticketing(s: &NotifySettings) -> Result<Option<Arc<dyn Ticketing>>, InitError> {
    if s.env.github.is_some() || s.env.jira.is_some() || s.env.ticket_webhook_url.is_some() {
        return Err(InitError::FeatureDisabled {
            feature: "ticketing",
            needed_for: "APP_ERROR_GITHUB_*, APP_ERROR_JIRA_* or APP_ERROR_TICKET_WEBHOOK_URL".to_owned(),
        });
    }
    Ok(None)
}

#[cfg(feature = "email")]
fn email_notifier(config: &Setup<'_>) -> Result<Arc<dyn Notifier>, InitError> {
    Ok(Arc::new(EmailNotifier::from_config(config)?))
}

#[cfg(not(feature = "email"))]
fn email_notifier(_: &Setup<'_>) -> Result<Arc<dyn Notifier>, InitError> {
    Err(InitError::FeatureDisabled {
        feature: "email",
        needed_for: "APP_ERROR_SEND_NOTIFICATION with APP_ERROR_RECIPIENT_EMAIL".to_owned(),
    })
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
