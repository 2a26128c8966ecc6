//! [`GithubIssues`]: one GitHub issue per group.

use std::time::Duration;

use serde::Serialize;

use crate::json::Value;

use super::{comment_text, ticket_id};
use crate::notify::http::{Client, Method};
use crate::notify::{Notification, NotifyError, Reason, Ticketing, peer_of};

/// Opens a GitHub issue for each new group, comments on it when the group
/// is notified again, and reopens it on a regression. The reference kept on
/// the group is the issue's `html_url`.
///
/// ```
/// use error_tracker::notify::ticketing::GithubIssues;
/// let issues = GithubIssues::new("acme/shop", "github_pat_…").labels(["bug", "error-tracker"]);
/// let config = error_tracker::Config::default().ticketing(issues);
/// # let _ = config;
/// ```
#[derive(Debug, Clone)]
pub struct GithubIssues {
    api: String,
    repo: String,
    token: String,
    labels: Vec<String>,
    client: Client,
}

impl GithubIssues {
    /// Issues in `repo` (`owner/name`), with a token allowed to write issues.
    pub fn new(repo: impl Into<String>, token: impl Into<String>) -> Self {
        Self {
            api: "https://api.github.com".to_owned(),
            repo: repo.into(),
            token: token.into(),
            labels: Vec::new(),
            client: Client::new(crate::notify::http::DEFAULT_TIMEOUT),
        }
    }

    /// The API root, for GitHub Enterprise (`https://ghe.example.com/api/v3`).
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.api = url.into().trim_end_matches('/').to_owned();
        self
    }

    /// Labels put on new issues.
    pub fn labels<I, S>(mut self, labels: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.labels = labels.into_iter().map(Into::into).collect();
        self
    }

    /// The longest wait for one request.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.client = Client::new(timeout);
        self
    }

    fn call(&self, method: Method, path: &str, key: &str, body: &impl Serialize) -> Result<Value, NotifyError> {
        let auth = format!("Bearer {}", self.token);
        let headers = [
            ("Authorization", auth.as_str()),
            ("Accept", "application/vnd.github+json"),
            ("X-GitHub-Api-Version", "2022-11-28"),
        ];
        self.client.send_json(method, &format!("{}/repos/{}{path}", self.api, self.repo), &headers, key, body)
    }
}

#[derive(Serialize)]
struct NewIssue<'a> {
    title: &'a str,
    body: &'a str,
    labels: &'a [String],
}

#[derive(Serialize)]
struct State {
    state: &'static str,
}

#[derive(Serialize)]
struct Comment {
    body: String,
}

impl Ticketing for GithubIssues {
    fn channel_name(&self) -> String {
        "github".to_owned()
    }

    fn raise_ticket(&self, n: &Notification) -> Result<String, NotifyError> {
        // A fence longer than any backtick run in the text cannot be closed by it.
        let fence = "`".repeat(longest_backtick_run(&n.body).max(2) + 1);
        let body = format!("{}\n\n{fence}text\n{}\n{fence}\n", n.url, n.body);
        let issue = NewIssue { title: &n.subject, body: &body, labels: &self.labels };
        let answer = self.call(Method::Post, "/issues", &n.id, &issue)?;
        match (&answer["html_url"], &answer["number"]) {
            (Value::String(url), _) => Ok(url.clone()),
            (_, Value::Number(num)) => Ok(format!("{}#{num}", self.repo)),
            _ => Err(NotifyError::BadResponse {
                peer: peer_of(&self.api),
                reason: "the created issue has neither html_url nor number".to_owned(),
            }),
        }
    }

    fn update_ticket(&self, reference: &str, n: &Notification) -> Result<(), NotifyError> {
        let id = ticket_id(reference);
        if n.reason == Reason::Regressed {
            self.call(Method::Patch, &format!("/issues/{id}"), &format!("{}-reopen", n.id), &State { state: "open" })?;
        }
        self.call(Method::Post, &format!("/issues/{id}/comments"), &n.id, &Comment { body: comment_text(n) })?;
        Ok(())
    }
}

fn longest_backtick_run(s: &str) -> usize {
    s.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}
