//! [`WebhookNotifier`]: a POST of JSON to a URL, optionally shaped for Slack.

use std::time::Duration;

use serde::Serialize;

use crate::store::render_traceback;

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
        Self { url: url.into(), slack: false, headers: Vec::new(), client: Client::new(super::http::DEFAULT_TIMEOUT) }
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
    fn channel_name(&self) -> String {
        if self.slack { "slack" } else { "webhook" }.to_owned()
    }

    fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        let headers: Vec<(&str, &str)> = self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let sent = if self.slack {
            self.client.send_json(Method::Post, &self.url, &headers, &n.id, &SlackPayload { text: slack_text(n) })
        } else {
            let payload = Payload {
                reason: &n.reason,
                subject: &n.subject,
                text: &n.body,
                url: &n.url,
                group: &n.group,
                occurrence: &n.occurrence,
            };
            self.client.send_json(Method::Post, &self.url, &headers, &n.id, &payload)
        };
        sent.map(|_| ())
    }
}

/// The longest traceback in a Slack message, in characters: Slack cuts a
/// message's text at 40,000, and a long one is unreadable in a channel.
const MAX_SLACK_TRACEBACK: usize = 3_000;

/// Slack's `mrkdwn`: the subject in bold, the facts, a link to the UI, and
/// the extra values and the traceback (with the tracked frames' masked
/// arguments and locals) in a
/// code block, cut at [`MAX_SLACK_TRACEBACK`] characters.
fn slack_text(n: &Notification) -> String {
    let g = &n.group;
    let mut traceback = String::new();
    for v in &n.occurrence.extra {
        traceback.push_str(&format!("{} = {}\n", v.name, v.value));
    }
    if !traceback.is_empty() {
        traceback.push('\n');
    }
    traceback.push_str(&render_traceback(&n.occurrence));
    let mut cut: String = traceback.chars().take(MAX_SLACK_TRACEBACK).collect();
    if cut.len() < traceback.len() {
        cut.push_str("\n… (the whole traceback is on the group's page)");
    }
    // A ``` inside the block would end it early.
    let cut = cut.replace("```", "`\u{200b}``");
    format!(
        "*{}*\n{} · {} occurrence(s) · first seen {} · last seen {}\n<{}|Open in error-tracker>\n```{}```",
        slack_escape(&n.subject),
        slack_escape(&n.reason.to_string()),
        g.count,
        g.created_on,
        g.last_seen,
        slack_escape(&n.url),
        slack_escape(cut.trim_end()),
    )
}

/// Slack reads `&`, `<` and `>` as markup; everything else is literal.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
