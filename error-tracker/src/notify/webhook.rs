//! [`WebhookNotifier`]: a POST of JSON to a URL, optionally shaped for Slack.

use std::time::Duration;

use serde::Serialize;

use super::http::{Client, Method};
use super::{Notification, Notifier, NotifyError};

/// POSTs each notification as JSON to a URL.
///
/// The default payload carries the reason, subject, plain-text body, the
/// group's UI link, the group row and the masked occurrence:
/// `{"reason", "subject", "text", "url", "group", "occurrence"}`.
/// [`slack`](Self::slack) sends a Slack-compatible `{"text": …}` instead,
/// which Slack, Mattermost and Rocket.Chat incoming webhooks accept.
///
/// ```
/// use error_tracker::notify::WebhookNotifier;
/// let slack = WebhookNotifier::new("https://hooks.slack.com/services/T0/B0/XXXX").slack();
/// let config = error_tracker::Config::default().notifier(slack);
/// # let _ = config;
/// ```
#[derive(Debug, Clone)]
pub struct WebhookNotifier {
    url: String,
    slack: bool,
    headers: Vec<(String, String)>,
    client: Client,
}

impl WebhookNotifier {
    /// Posts to `url`, with a 10 s timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), slack: false, headers: Vec::new(), client: Client::new(Duration::from_secs(10)) }
    }

    /// Sends a Slack-compatible payload (`{"text": …}` in Slack's markup).
    pub fn slack(mut self) -> Self {
        self.slack = true;
        self
    }

    /// Adds a header to every request, e.g. an `Authorization` token.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The longest wait for one request, connection included.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.client = Client::new(timeout);
        self
    }
}

/// The default payload.
#[derive(Serialize)]
struct Payload<'a> {
    reason: &'a super::Reason,
    subject: &'a str,
    text: &'a str,
    url: &'a str,
    group: &'a crate::GroupSummary,
    occurrence: &'a crate::Occurrence,
}

/// Slack's payload.
#[derive(Serialize)]
struct SlackPayload {
    text: String,
}

impl Notifier for WebhookNotifier {
    fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        let headers: Vec<(&str, &str)> = self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let sent = if self.slack {
            self.client.send_json(Method::Post, &self.url, &headers, &SlackPayload { text: slack_text(n) })
        } else {
            let payload = Payload {
                reason: &n.reason,
                subject: &n.subject,
                text: &n.body,
                url: &n.url,
                group: &n.group,
                occurrence: &n.occurrence,
            };
            self.client.send_json(Method::Post, &self.url, &headers, &payload)
        };
        sent.map(|_| ())
    }
}

/// Slack's `mrkdwn`: the subject in bold, the facts, and a link to the UI.
fn slack_text(n: &Notification) -> String {
    let g = &n.group;
    format!(
        "*{}*\n{} · {} occurrence(s) · first seen {} · last seen {}\n<{}|Open in error-tracker>",
        slack_escape(&n.subject),
        slack_escape(&n.reason.to_string()),
        g.count,
        g.created_on,
        g.last_seen,
        slack_escape(&n.url),
    )
}

/// Slack reads `&`, `<` and `>` as markup; everything else is literal.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
