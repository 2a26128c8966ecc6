//! [`WebhookTicketing`]: tickets in any system behind a small HTTP endpoint.

use std::time::Duration;

use serde::Serialize;

use crate::json::Value;

use crate::notify::http::{Client, Method};
use crate::notify::{Notification, NotifyError, Ticketing, peer_of};

/// Posts ticket events as JSON to a URL, for trackers without a built-in.
///
/// Each request is `{"action", "ticket", "reason", "subject", "text", "url",
/// "group", "occurrence"}` where `action` is `"create"` (and `ticket` null)
/// or `"update"` (with the reference). The answer to `"create"` must be a
/// JSON object whose `ticket`, `id`, `key` or `url` field is the reference.
///
/// ```
/// use error_tracker::notify::ticketing::WebhookTicketing;
/// let tickets = WebhookTicketing::new("https://tickets.internal/hooks/errors").header("X-Token", "…");
/// let config = error_tracker::Config::default().ticketing(tickets);
/// # let _ = config;
/// ```
#[derive(Debug, Clone)]
pub struct WebhookTicketing {
    url: String,
    headers: Vec<(String, String)>,
    client: Client,
}

impl WebhookTicketing {
    /// Posts to `url`, with a 10 s timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), headers: Vec::new(), client: Client::new(crate::notify::http::DEFAULT_TIMEOUT) }
    }

    /// Adds a header to every request, e.g. an `Authorization` token.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The longest wait for one request.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.client = Client::new(timeout);
        self
    }

    fn post(&self, action: &str, ticket: Option<&str>, n: &Notification) -> Result<Value, NotifyError> {
        let body = Payload {
            action,
            ticket,
            reason: &n.reason,
            subject: &n.subject,
            text: &n.body,
            url: &n.url,
            group: &n.group,
            occurrence: &n.occurrence,
        };
        let headers: Vec<(&str, &str)> = self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.client.send_json(Method::Post, &self.url, &headers, &n.id, &body)
    }
}

/// What the ticketing webhook receives.
#[derive(Serialize)]
struct Payload<'a> {
    action: &'a str,
    ticket: Option<&'a str>,
    reason: &'a super::super::Reason,
    subject: &'a str,
    text: &'a str,
    url: &'a str,
    group: &'a crate::GroupSummary,
    occurrence: &'a crate::Occurrence,
}

impl Ticketing for WebhookTicketing {
    fn channel_name(&self) -> String {
        "ticket-webhook".to_owned()
    }

    fn raise_ticket(&self, n: &Notification) -> Result<String, NotifyError> {
        let answer = self.post("create", None, n)?;
        ["ticket", "id", "key", "url"]
            .iter()
            .find_map(|k| match &answer[*k] {
                Value::String(s) if !s.is_empty() => Some(s.clone()),
                Value::Number(num) => Some(num.to_string()),
                _ => None,
            })
            .ok_or_else(|| NotifyError::BadResponse {
                peer: peer_of(&self.url),
                reason: "the answer names no ticket (expected a ticket, id, key or url field)".to_owned(),
            })
    }

    fn update_ticket(&self, reference: &str, n: &Notification) -> Result<(), NotifyError> {
        self.post("update", Some(reference), n).map(|_| ())
    }
}
