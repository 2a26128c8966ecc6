//! [`Jira`]: one Jira issue per group.

use std::time::Duration;

use serde::Serialize;

use crate::json::Value;

use super::{comment_text, ticket_id};
use crate::notify::http::{Client, Method, base64};
use crate::notify::{Notification, NotifyError, Ticketing, peer_of};

/// Creates a Jira issue for each new group (REST API v2, basic auth with an
/// API token), then comments on it when the group is notified again. The
/// reference kept on the group is the issue's `<base>/browse/<KEY>` URL.
///
/// Jira workflows differ, so a regression is a comment that says so rather
/// than a transition.
///
/// ```
/// use error_tracker::notify::ticketing::Jira;
/// let jira = Jira::new("https://acme.atlassian.net", "OPS", "bot@acme.com", "api-token").issue_type("Bug");
/// let config = error_tracker::Config::default().ticketing(jira);
/// # let _ = config;
/// ```
#[derive(Debug, Clone)]
pub struct Jira {
    base: String,
    project: String,
    auth: String,
    issue_type: String,
    client: Client,
}

impl Jira {
    /// Issues in project `project` (its key) of the Jira site at `base_url`,
    /// as `email` with `api_token`.
    pub fn new(base_url: impl Into<String>, project: impl Into<String>, email: &str, api_token: &str) -> Self {
        Self {
            base: base_url.into().trim_end_matches('/').to_owned(),
            project: project.into(),
            auth: format!("Basic {}", base64(format!("{email}:{api_token}").as_bytes())),
            issue_type: "Bug".to_owned(),
            client: Client::new(crate::notify::http::DEFAULT_TIMEOUT),
        }
    }

    /// The issue type of new issues (default `Bug`).
    pub fn issue_type(mut self, name: impl Into<String>) -> Self {
        self.issue_type = name.into();
        self
    }

    /// The longest wait for one request.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.client = Client::new(timeout);
        self
    }

    fn post(&self, path: &str, key: &str, body: &impl Serialize) -> Result<Value, NotifyError> {
        let headers = [("Authorization", self.auth.as_str())];
        self.client.send_json(Method::Post, &format!("{}/rest/api/2{path}", self.base), &headers, key, body)
    }
}

#[derive(Serialize)]
struct NewIssue<'a> {
    fields: Fields<'a>,
}

#[derive(Serialize)]
struct Fields<'a> {
    project: Key<'a>,
    summary: &'a str,
    description: &'a str,
    issuetype: Name<'a>,
}

#[derive(Serialize)]
struct Key<'a> {
    key: &'a str,
}

#[derive(Serialize)]
struct Name<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct Comment {
    body: String,
}

impl Ticketing for Jira {
    fn channel_name(&self) -> String {
        "jira".to_owned()
    }

    fn raise_ticket(&self, n: &Notification) -> Result<String, NotifyError> {
        let description = format!("{}\n\n{{noformat}}\n{}\n{{noformat}}", n.url, n.body.replace("{noformat}", ""));
        let fields = Fields {
            project: Key { key: &self.project },
            summary: &n.subject,
            description: &description,
            issuetype: Name { name: &self.issue_type },
        };
        let answer = self.post("/issue", &n.id, &NewIssue { fields })?;
        match answer["key"].as_str() {
            Some(key) => Ok(format!("{}/browse/{key}", self.base)),
            None => Err(NotifyError::BadResponse {
                peer: peer_of(&self.base),
                reason: "the created issue has no key".to_owned(),
            }),
        }
    }

    fn update_ticket(&self, reference: &str, n: &Notification) -> Result<(), NotifyError> {
        self.post(&format!("/issue/{}/comment", ticket_id(reference)), &n.id, &Comment { body: comment_text(n) })?;
        Ok(())
    }
}
