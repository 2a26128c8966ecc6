//! Built-in [`Ticketing`](crate::Ticketing) implementations: GitHub Issues,
//! Jira, and a generic webhook. All use one blocking HTTP client, on the
//! ticketing channel's own worker thread, and send the notification id as
//! an `Idempotency-Key` header.

mod github;
mod jira;
mod webhook;

pub use github::GithubIssues;
pub use jira::Jira;
pub use webhook::WebhookTicketing;

use super::Notification;

/// The id at the end of a ticket reference: `…/issues/12` or `owner/repo#12`
/// gives `12`, `…/browse/OPS-7` gives `OPS-7`.
fn ticket_id(reference: &str) -> &str {
    reference.trim_end_matches('/').rsplit(['/', '#']).next().unwrap_or(reference)
}

/// The text of a comment on an existing ticket.
fn comment_text(n: &Notification) -> String {
    let g = &n.group;
    format!(
        "{}: {} occurrence(s) in all, last seen {} on {}.\n{}: {}\n{}",
        n.reason, g.count, g.last_seen, n.occurrence.host, n.occurrence.exception_name, n.occurrence.message, n.url
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn ticket_ids_are_read_from_references() {
        assert_eq!(super::ticket_id("https://github.com/o/r/issues/12"), "12");
        assert_eq!(super::ticket_id("o/r#12"), "12");
        assert_eq!(super::ticket_id("https://x.atlassian.net/browse/OPS-7/"), "OPS-7");
        assert_eq!(super::ticket_id("42"), "42");
    }
}
