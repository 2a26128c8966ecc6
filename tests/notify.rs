//! Notifications and tickets end to end, against real peers on loopback that
//! this test starts: an SMTP sink speaking the protocol (EHLO, MAIL, RCPT,
//! DATA, QUIT) and an HTTP server standing in for a webhook, Slack, GitHub,
//! Jira and a ticketing webhook.
#![cfg(feature = "notify")]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use error_tracker::notify::ticketing::{GithubIssues, Jira, WebhookTicketing};
use error_tracker::notify::{Notification, NotifyError, Reason, SmtpSettings, SmtpTls, WebhookNotifier};
use error_tracker::{GroupQuery, GroupSummary, Notifier, PageRequest, Status, Ticketing, record_exception};
use error_tracker_suite::peers::{Answer, HttpServer, Request, SmtpMode, SmtpServer};
use error_tracker_suite::{flush, init_once};
use error_tracker_ui::{AllowAll, UiRequest};
use serde_json::Value;

// ---------------------------------------------------------------- the peers

/// How the HTTP peer answers: as each API expects, with a failing and a
/// hanging webhook for two error types.
fn route(r: &Request, counter: &AtomicU32, base: &str) -> Answer {
    let next = || counter.fetch_add(1, Ordering::SeqCst) + 1;
    let hang = Answer::Hang(Duration::from_secs(10));
    let (status, body) = match (r.method.as_str(), r.path.as_str()) {
        ("POST", "/hook") if r.body.contains("FlakyError") => (422, r#"{"message":"unprocessable"}"#.into()),
        ("POST", "/hook") if r.body.contains("HangingError") => return hang,
        ("POST", "/hook" | "/slack") => (200, "ok".into()),
        ("POST", "/hang") => return hang,
        ("POST", "/repos/acme/shop/issues") => {
            let n = next();
            (201, format!(r#"{{"number":{n},"html_url":"{base}/acme/shop/issues/{n}"}}"#))
        }
        ("POST", p) if p.starts_with("/repos/acme/shop/issues/") && p.ends_with("/comments") => (201, "{}".into()),
        ("PATCH", p) if p.starts_with("/repos/acme/shop/issues/") => (200, "{}".into()),
        ("POST", "/rest/api/2/issue") => (201, format!(r#"{{"id":"1000{0}","key":"OPS-{0}"}}"#, next())),
        ("POST", p) if p.starts_with("/rest/api/2/issue/") && p.ends_with("/comment") => (201, "{}".into()),
        ("POST", "/tickets") if r.json()["action"] == "create" => (200, format!(r#"{{"ticket":"TCK-{}"}}"#, next())),
        ("POST", "/tickets") => (200, "{}".into()),
        _ => (404, r#"{"message":"Not Found"}"#.into()),
    };
    Answer::Json(status, body)
}

// ---------------------------------------------------------------- the tracker

struct Peers {
    smtp: SmtpServer,
    http: HttpServer,
}

const PREFIX: &str = "shop";
const SECRET: &str = "hunter2-do-not-send";

/// Starts the peers and initializes the tracker once for this binary: email
/// from the seed's settings, a Slack webhook, a plain webhook that fails for
/// one group, and GitHub Issues.
fn peers() -> &'static Peers {
    static PEERS: OnceLock<Peers> = OnceLock::new();
    let peers = PEERS.get_or_init(|| {
        let counter = AtomicU32::new(0);
        Peers {
            smtp: SmtpServer::start(SmtpMode::Up),
            http: HttpServer::start(move |r: &Request, base: &str| route(r, &counter, base)),
        }
    });
    init_once(|c| {
        c.send_notification(true)
            .recipient_emails(["oncall@example.com", "dev@example.com"])
            .email_sender("errors@example.com")
            .subject_prefix(PREFIX)
            .smtp(SmtpSettings::new("127.0.0.1", peers.smtp.port).tls(SmtpTls::None).timeout(Duration::from_secs(5)))
            .ui_base_url("http://ui.test")
            .notifier(WebhookNotifier::new(format!("{}/slack", peers.http.base)).slack())
            .notifier(
                WebhookNotifier::new(format!("{}/hook", peers.http.base))
                    .header("X-Token", "hook-token")
                    .timeout(Duration::from_millis(400)),
            )
            .ticketing(GithubIssues::new("acme/shop", "ghp_test").api_url(&peers.http.base).labels(["bug"]))
            .notify_retry(3, Duration::from_millis(5))
    });
    peers
}

/// Held by the tests that read the last error, so that it is theirs.
static FAILURES: Mutex<()> = Mutex::new(());

/// Waits until the writer stored everything and the worker delivered it.
fn deliver() {
    flush();
    assert!(error_tracker::notify::flush(Duration::from_secs(30)), "notifications were not delivered in time");
}

fn group(search: &str) -> GroupSummary {
    let store = error_tracker::store().expect("initialized");
    let q = GroupQuery { search: Some(search.into()), page: PageRequest::first(10), ..Default::default() };
    let page = store.list_groups(&q).unwrap();
    assert_eq!(page.items.len(), 1, "groups matching {search}: {:#?}", page.items);
    page.items.into_iter().next().unwrap()
}

#[derive(Debug)]
struct CheckoutError;
impl std::fmt::Display for CheckoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("payment <b>declined</b> & retried")
    }
}
impl std::error::Error for CheckoutError {}

/// The one call site of `CheckoutError` (a call site is a group).
fn checkout_fails() {
    record_exception!(CheckoutError, "password" => SECRET, "order" => 42);
}

#[test]
fn a_new_group_mails_posts_and_opens_one_issue_and_a_regression_reopens_it() {
    let peers = peers();
    checkout_fails();
    deliver();

    let g = group("CheckoutError");
    let mails = peers.smtp.mails_about("CheckoutError");
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let mail = &mails[0];
    assert_eq!(mail.from, "errors@example.com");
    assert_eq!(mail.to, ["oncall@example.com", "dev@example.com"]);
    let subject = mail.header("Subject").expect("a subject");
    assert_eq!(subject, format!("[{PREFIX}] notify::CheckoutError: payment <b>declined</b> & retried"));
    let url = format!("http://ui.test/dev/error/group/{}", g.hash);
    let text = mail.part("text/plain");
    assert!(text.contains("payment <b>declined</b> & retried") && text.contains(&url), "{text}");
    assert!(text.contains("Count:      1") && text.contains("order = 42"), "{text}");
    let html = mail.part("text/html");
    assert!(html.contains("payment &lt;b&gt;declined&lt;/b&gt; &amp; retried"), "{html}");
    assert!(html.contains(&format!("<a href=\"{url}\">")), "{html}");
    assert!(!html.contains("<b>declined"), "{html}");
    // One id per notification, on every channel: the receivers can drop copies.
    let message_id = mail.header("Message-ID").expect("a Message-ID");
    let id = message_id.strip_prefix('<').and_then(|m| m.strip_suffix("@example.com>")).expect("<id@sender domain>");
    assert_eq!(id.len(), 36, "{message_id}");
    // error-tracker's own frames are never starred as in-app.
    for line in text.lines().filter(|l| l.starts_with('*')) {
        assert!(!line.contains("error_tracker::") && !line.contains("__error_tracker"), "{text}");
    }

    let slack = peers.http.requests(|r| r.path == "/slack" && r.body.contains("CheckoutError"));
    assert_eq!(slack.len(), 1);
    let text = slack[0].json()["text"].as_str().unwrap().to_owned();
    assert!(text.contains("&lt;b&gt;declined") && text.contains(&format!("<{url}|")), "{text}");
    assert!(text.contains("```") && text.contains("order = 42"), "the traceback with locals: {text}");
    assert_eq!(slack[0].headers["idempotency-key"], id);
    let hook = peers.http.requests(|r| r.path == "/hook" && r.body.contains("CheckoutError"));
    assert_eq!(hook.len(), 1);
    assert_eq!(hook[0].headers["x-token"], "hook-token");
    assert_eq!(hook[0].headers["idempotency-key"], id);
    assert_eq!(hook[0].json()["group"]["hash"], g.hash.as_str());
    assert_eq!(hook[0].json()["reason"], "new");

    let issues = peers.http.requests(|r| r.path.starts_with("/repos/acme/shop/") && r.body.contains(&g.hash));
    assert_eq!(issues.len(), 1, "{issues:#?}");
    let create = &issues[0];
    assert_eq!((create.method.as_str(), create.path.as_str()), ("POST", "/repos/acme/shop/issues"));
    assert_eq!(create.headers["authorization"], "Bearer ghp_test");
    assert_eq!(create.headers["idempotency-key"], id);
    assert_eq!(create.headers["accept"], "application/vnd.github+json");
    assert_eq!(create.json()["title"], subject.as_str());
    assert_eq!(create.json()["labels"], serde_json::json!(["bug"]));

    let g = group("CheckoutError");
    assert!(g.notification_sent);
    let ticket = g.ticket_raised.clone().expect("the issue is kept on the group");
    assert!(ticket.starts_with(&format!("{}/acme/shop/issues/", peers.http.base)), "{ticket}");
    let number = ticket.rsplit('/').next().unwrap().to_owned();

    // Recurring: counted, not notified.
    checkout_fails();
    deliver();
    assert_eq!(peers.smtp.mails_about("CheckoutError").len(), 1);

    // A regression: a second mail, and the same issue reopened and commented.
    let store = error_tracker::store().unwrap();
    store.set_status(&g.hash, Status::Resolved).unwrap();
    checkout_fails();
    deliver();
    let mails = peers.smtp.mails_about("CheckoutError");
    assert_eq!(mails.len(), 2);
    assert!(mails[1].part("text/plain").contains("regression"), "{}", mails[1].raw);
    let calls: Vec<(String, String)> = peers
        .http
        .requests(|r| r.path.starts_with("/repos/acme/shop/issues"))
        .into_iter()
        .filter(|r| {
            r.path
                .strip_prefix("/repos/acme/shop/issues/")
                .is_some_and(|p| p == number || p == format!("{number}/comments"))
                || r.body.contains(&g.hash)
        })
        .map(|r| (r.method, r.path))
        .collect();
    assert_eq!(
        calls,
        [
            ("POST".to_owned(), "/repos/acme/shop/issues".to_owned()),
            ("PATCH".to_owned(), format!("/repos/acme/shop/issues/{number}")),
            ("POST".to_owned(), format!("/repos/acme/shop/issues/{number}/comments")),
        ]
    );
    let g = group("CheckoutError");
    assert_eq!((g.count, g.status, g.ticket_raised.as_deref()), (3, Status::Unresolved, Some(ticket.as_str())));

    // Nothing unmasked left the process.
    for m in peers.smtp.mails() {
        assert!(!m.raw.contains(SECRET) && !m.decoded().contains(SECRET));
    }
    for r in peers.http.requests(|_| true) {
        assert!(!r.body.contains(SECRET), "{r:?}");
    }
}

#[derive(Debug)]
struct StormError;

#[test]
fn a_storm_of_10000_occurrences_of_one_group_notifies_exactly_once() {
    let peers = peers();
    for _ in 0..10_000 {
        record_exception!(StormError);
    }
    deliver();
    let g = group("StormError");
    assert_eq!(g.count, 10_000);
    assert_eq!(peers.smtp.mails_about("StormError").len(), 1);
    assert_eq!(peers.http.requests(|r| r.path == "/slack" && r.body.contains("StormError")).len(), 1);
    assert_eq!(peers.http.requests(|r| r.path == "/hook" && r.body.contains("StormError")).len(), 1);
    assert_eq!(peers.http.requests(|r| r.path == "/repos/acme/shop/issues" && r.body.contains(&g.hash)).len(), 1);
}

#[derive(Debug)]
struct FlakyError;

/// The one call site of `FlakyError`.
fn flaky_fails() -> error_tracker::EventId {
    record_exception!(FlakyError)
}

#[test]
fn an_endpoint_that_refuses_is_given_up_at_once_and_the_app_goes_on() {
    let peers = peers();
    let _alone = FAILURES.lock().unwrap_or_else(|e| e.into_inner());
    let before = error_tracker::notify::status().expect("the worker runs");
    // Returns at once: delivery is not on this thread.
    let id = flaky_fails();
    assert!(!id.is_nil());
    deliver();
    let tries = peers.http.requests(|r| r.path == "/hook" && r.body.contains("FlakyError"));
    assert_eq!(tries.len(), 1, "a 422 is a refusal that a retry cannot change: given up at once");
    let after = error_tracker::notify::status().unwrap();
    assert!(after.failed > before.failed, "{after:?}");
    let (_, last) = after.last_error.expect("the last error is visible");
    assert!(last.starts_with("webhook: ") && last.contains("HTTP 422"), "the channel is named: {last}");
    assert!(!last.contains("/hook"), "URL paths stay out of errors: {last}");
    // The UI mounted in this process shows it.
    let ui = error_tracker_ui::ErrorTrackerUi::from_tracker().expect("init was called").permission(AllowAll);
    let page = ui.handle(&UiRequest::new("GET", &format!("{}/", ui.url_prefix())));
    let html = String::from_utf8_lossy(&page.body);
    assert!(html.contains("Notifications: ") && html.contains("HTTP 422"), "{html}");
    // The other channels still delivered, and the occurrence is stored.
    assert_eq!(peers.smtp.mails_about("FlakyError").len(), 1);
    let g = group("FlakyError");
    assert!(g.notification_sent && g.count == 1);
    flaky_fails();
    flush();
    assert_eq!(group("FlakyError").count, 2);
}

#[derive(Debug)]
struct HangingError;

#[test]
fn an_endpoint_that_never_answers_gets_one_copy_reported_unconfirmed() {
    let peers = peers();
    let _alone = FAILURES.lock().unwrap_or_else(|e| e.into_inner());
    let before = error_tracker::notify::status().expect("the worker runs");
    for _ in 0..3 {
        record_exception!(HangingError);
    }
    deliver();
    let tries = peers.http.requests(|r| r.path == "/hook" && r.body.contains("HangingError"));
    assert_eq!(tries.len(), 1, "the request left: not sent again, {tries:#?}");
    let after = error_tracker::notify::status().unwrap();
    assert_eq!(after.failed, before.failed, "{after:?}");
    assert!(after.unconfirmed > before.unconfirmed, "{after:?}");
    let hook = after.channels.iter().find(|c| c.name == "webhook").expect("the webhook channel");
    let (_, last) = hook.last_error.clone().expect("the channel's last error");
    assert!(last.contains("may have been delivered"), "{last}");
    assert_eq!(peers.smtp.mails_about("HangingError").len(), 1, "the other channels still deliver");
    assert_eq!(group("HangingError").count, 3);
    // The UI mounted in this process says so.
    let ui = error_tracker_ui::ErrorTrackerUi::from_tracker().expect("init was called").permission(AllowAll);
    let page = ui.handle(&UiRequest::new("GET", &format!("{}/", ui.url_prefix())));
    let html = String::from_utf8_lossy(&page.body);
    assert!(html.contains(" unconfirmed, "), "{html}");
}

/// A notification built by hand, for calling the built-ins directly.
fn notification(reason: Reason, count: u64) -> Notification {
    let o: error_tracker::Occurrence = serde_json::from_value(serde_json::json!({
        "id": "00000000-0000-4000-8000-000000000001",
        "exception_name": "app::DirectError",
        "message": "direct call",
        "thread": null, "timestamp": "2026-11-25T10:00:00Z", "host": "web-1", "pid": 1,
        "release": null, "panic": null, "request": null,
    }))
    .unwrap();
    let g = GroupSummary {
        hash: "d1".into(),
        exception_name: o.exception_name.clone(),
        message: o.message.clone(),
        method: None,
        path: None,
        host: o.host.clone(),
        count,
        created_on: o.timestamp,
        last_seen: o.timestamp,
        status: Status::Unresolved,
        notification_sent: false,
        ticket_raised: None,
    };
    Notification::new(reason, g, o, PREFIX, "http://ui.test/dev/error/d1".into())
}

#[test]
fn jira_creates_an_issue_then_comments_on_it() {
    let peers = peers();
    let jira = Jira::new(&peers.http.base, "OPS", "bot@acme.com", "jira-token");
    let reference = jira.raise_ticket(&notification(Reason::New, 1)).expect("created");
    let key = reference.rsplit('/').next().unwrap().to_owned();
    assert_eq!(reference, format!("{}/browse/{key}", peers.http.base));
    jira.update_ticket(&reference, &notification(Reason::Every(100), 100)).expect("commented");

    let calls = peers.http.requests(|r| r.path.starts_with("/rest/api/2/issue") && r.body.contains("DirectError"));
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert_eq!(calls[0].path, "/rest/api/2/issue");
    assert_eq!(calls[1].path, format!("/rest/api/2/issue/{key}/comment"));
    for c in &calls {
        assert_eq!(c.method, "POST");
        assert_eq!(c.headers["authorization"], "Basic Ym90QGFjbWUuY29tOmppcmEtdG9rZW4=");
        assert_eq!(c.headers["content-type"], "application/json");
    }
    let fields = &calls[0].json()["fields"];
    assert_eq!(fields["project"]["key"], "OPS");
    assert_eq!(fields["issuetype"]["name"], "Bug");
    assert_eq!(fields["summary"], format!("[{PREFIX}] app::DirectError: direct call"));
    let comment = calls[1].json()["body"].as_str().unwrap().to_owned();
    assert!(
        comment.contains("reached 100 occurrences") && comment.contains("http://ui.test/dev/error/d1"),
        "{comment}"
    );
}

#[test]
fn the_ticketing_webhook_creates_then_updates() {
    let peers = peers();
    let hook = WebhookTicketing::new(format!("{}/tickets", peers.http.base)).header("Authorization", "Token t1");
    let reference = hook.raise_ticket(&notification(Reason::New, 1)).expect("created");
    assert!(reference.starts_with("TCK-"), "{reference}");
    hook.update_ticket(&reference, &notification(Reason::Regressed, 5)).expect("updated");
    let calls = peers.http.requests(|r| r.path == "/tickets");
    let mine: Vec<Value> = calls.iter().map(Request::json).filter(|j| j["group"]["hash"] == "d1").collect();
    assert!(calls.iter().all(|c| c.headers["authorization"] == "Token t1"));
    let create = mine.iter().find(|j| j["action"] == "create").expect("a create");
    assert_eq!(create["ticket"], Value::Null);
    assert_eq!(create["occurrence"]["exception_name"], "app::DirectError");
    let update = mine.iter().find(|j| j["action"] == "update" && j["ticket"] == reference.as_str()).expect("an update");
    assert_eq!((update["reason"].as_str(), update["group"]["count"].as_u64()), (Some("regressed"), Some(5)));
}

#[test]
fn a_hanging_endpoint_times_out_with_a_clear_error() {
    let peers = peers();
    let hook = WebhookNotifier::new(format!("{}/hang", peers.http.base)).timeout(Duration::from_millis(300));
    let err = hook.notify(&notification(Reason::New, 1)).expect_err("no answer");
    assert!(matches!(err, NotifyError::Unconfirmed { .. }) && err.may_have_been_delivered(), "{err}");
    assert!(err.to_string().starts_with(&format!("no answer from {} in time", peers.http.base)), "{err}");
    assert!(!err.to_string().contains("/hang"), "{err}");
}
