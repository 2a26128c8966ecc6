//! The policy, the texts and the worker, through the crate-internal API and
//! the in-memory store. The real SMTP and HTTP peers are in tests/notify.rs.

use crate::store::{StoreQuery, StoreWrite};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::Config;
use crate::occurrence::{RequestContext, Variable};
use crate::store::{ChangeKind, GroupChange, Grouped, MemoryStore, Status};

fn occurrence(message: &str) -> Occurrence {
    Occurrence {
        id: "00000000-0000-4000-8000-000000000000".into(),
        exception_name: "std::io::error::Error".into(),
        message: message.into(),
        sources: Vec::new(),
        backtrace: Vec::new(),
        thread: Some("main".into()),
        timestamp: Timestamp::now(),
        host: "web-1".into(),
        pid: 7,
        release: None,
        panic: None,
        frames: Vec::new(),
        request: None,
        extra: vec![Variable { name: "password".into(), value: crate::DEFAULT_MASK_WITH.into() }],
        site: None,
        breadcrumbs: Vec::new(),
        spans: Vec::new(),
        error_backtrace: Vec::new(),
    }
}

fn grouped(hash: &str, message: &str) -> Grouped {
    Grouped { hash: hash.into(), occurrence: occurrence(message), times: 1, count_only: false }
}

fn change(kind: ChangeKind, count: u64, added: u64) -> GroupChange {
    GroupChange { hash: "h1".into(), kind, count, added }
}

fn dispatcher(config: &Config, store: Arc<dyn Store>) -> (Dispatcher, Arc<Shared>) {
    let shared = Arc::new(Shared::default());
    let s = shared.clone();
    let sinks = sinks(&config.notify_setup()).unwrap();
    (Dispatcher::start(&config.notify_setup(), store, sinks, move || s).unwrap().expect("a dispatcher"), shared)
}

/// Waits (bounded) until `f` holds of the status.
fn wait_for(shared: &Shared, what: &str, f: impl Fn(&DeliveryStatus) -> bool) -> DeliveryStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = shared.snapshot();
        if f(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "{what}: {s:#?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A store that keeps no outbox (the trait's defaults), as a store of yours may.
struct NoOutbox(MemoryStore);

impl crate::StoreWrite for NoOutbox {
    fn write(&self, batch: &[Grouped]) -> Result<Vec<GroupChange>, crate::StoreError> {
        self.0.write(batch)
    }
}

impl crate::StoreQuery for NoOutbox {
    fn list_groups(&self, q: &crate::GroupQuery) -> Result<crate::Page<GroupSummary>, crate::StoreError> {
        self.0.list_groups(q)
    }
    fn group(&self, hash: &str) -> Result<Option<crate::Group>, crate::StoreError> {
        self.0.group(hash)
    }
    fn occurrences(&self, hash: &str, page: crate::PageRequest) -> Result<crate::Page<Occurrence>, crate::StoreError> {
        self.0.occurrences(hash, page)
    }
    fn hourly_counts(&self, hash: &str, since: Timestamp) -> Result<Vec<u64>, crate::StoreError> {
        self.0.hourly_counts(hash, since)
    }
    fn delete_group(&self, hash: &str) -> Result<bool, crate::StoreError> {
        self.0.delete_group(hash)
    }
    fn set_status(&self, hash: &str, status: Status) -> Result<bool, crate::StoreError> {
        self.0.set_status(hash, status)
    }
    fn set_notification_sent(&self, hash: &str, sent: bool) -> Result<bool, crate::StoreError> {
        self.0.set_notification_sent(hash, sent)
    }
    fn set_ticket(&self, hash: &str, ticket: Option<&str>) -> Result<bool, crate::StoreError> {
        self.0.set_ticket(hash, ticket)
    }
}

/// A notifier that keeps what it was sent, and fails while `failing` is set.
#[derive(Clone, Default)]
struct Inbox {
    sent: Arc<Mutex<Vec<Notification>>>,
    failing: Arc<Mutex<bool>>,
}

impl Notifier for Inbox {
    fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        if *self.failing.lock().unwrap() {
            return Err(NotifyError::Transport { peer: "http://127.0.0.1:9".into(), reason: "refused".into() });
        }
        self.sent.lock().unwrap().push(n.clone());
        Ok(())
    }
}

/// A ticket system that keeps its calls.
#[derive(Clone, Default)]
struct Tickets(Arc<Mutex<Vec<String>>>);

impl Ticketing for Tickets {
    fn raise_ticket(&self, n: &Notification) -> Result<String, NotifyError> {
        let mut calls = self.0.lock().unwrap();
        calls.push(format!("create {}", n.group.hash));
        Ok(format!("T-{}", calls.len()))
    }
    fn update_ticket(&self, reference: &str, n: &Notification) -> Result<(), NotifyError> {
        self.0.lock().unwrap().push(format!("update {reference} {:?} count={}", n.reason, n.group.count));
        Ok(())
    }
}

#[test]
fn the_default_policy_notifies_new_groups_and_regressions_only() {
    let (mut d, _) = dispatcher(&Config::default().notifier(Inbox::default()), Arc::new(MemoryStore::default()));
    let now = Instant::now();
    assert_eq!(d.decide(&change(ChangeKind::New, 1, 1), now), Some(Reason::New));
    for count in 2..=10_000 {
        assert_eq!(d.decide(&change(ChangeKind::Recurring, count, 1), now), None);
    }
    assert_eq!(d.decide(&change(ChangeKind::Regressed, 10_001, 1), now), Some(Reason::Regressed));
}

#[test]
fn every_nth_occurrence_counts_crossings_within_a_batch() {
    let config = Config::default().notifier(Inbox::default()).notify_every(100);
    let (mut d, _) = dispatcher(&config, Arc::new(MemoryStore::default()));
    let now = Instant::now();
    assert_eq!(d.decide(&change(ChangeKind::Recurring, 99, 98), now), None);
    assert_eq!(d.decide(&change(ChangeKind::Recurring, 100, 1), now), Some(Reason::Every(100)));
    assert_eq!(d.decide(&change(ChangeKind::Recurring, 101, 1), now), None);
    // A folded batch that jumps over 200 and 300 notifies once, and says so.
    let folded = d.decide(&change(ChangeKind::Recurring, 350, 249), now).unwrap();
    assert_eq!(folded, Reason::Multiples { first: 200, last: 300, every: 100 });
    assert_eq!(
        folded.to_string(),
        "reached the 200th to 300th occurrences (2 multiples of 100, folded into this message)"
    );
}

#[test]
fn the_interval_reminds_at_most_once_per_group_per_interval() {
    let config = Config::default().notifier(Inbox::default()).notify_interval(Duration::from_secs(3600));
    let (mut d, _) = dispatcher(&config, Arc::new(MemoryStore::default()));
    let t0 = Instant::now();
    assert_eq!(d.decide(&change(ChangeKind::New, 1, 1), t0), Some(Reason::New));
    assert_eq!(d.decide(&change(ChangeKind::Recurring, 2, 1), t0 + Duration::from_secs(60)), None);
    let later = t0 + Duration::from_secs(3601);
    assert_eq!(d.decide(&change(ChangeKind::Recurring, 3, 1), later), Some(Reason::Reminder));
    assert_eq!(d.decide(&change(ChangeKind::Recurring, 4, 1), later + Duration::from_secs(1)), None);
}

#[test]
fn the_subject_follows_the_seed_format_on_one_line() {
    let mut o = occurrence("disk\nfull");
    assert_eq!(subject_line("", &o), "std::io::error::Error: disk full");
    o.request = Some(RequestContext { method: "POST".into(), path: "/users/7".into(), ..Default::default() });
    assert_eq!(subject_line("shop", &o), "[shop] [POST] /users/7 std::io::error::Error: disk full");
    o.request.as_mut().unwrap().route = Some("/users/{id}".into());
    assert_eq!(subject_line("shop", &o), "[shop] [POST] /users/{id} std::io::error::Error: disk full");
    o.message = "x".repeat(500);
    assert_eq!(subject_line("shop", &o).chars().count(), MAX_SUBJECT + 1);
}

#[test]
fn bodies_hold_the_facts_and_the_html_is_escaped() {
    let mut o = occurrence("<script>alert(1)</script> & more");
    o.request = Some(RequestContext {
        method: "GET".into(),
        url: "http://h/a?q=<b>".into(),
        path: "/a".into(),
        ..Default::default()
    });
    let store = MemoryStore::default();
    store.write(&[Grouped { hash: "h1".into(), occurrence: o.clone(), times: 1, count_only: false }]).unwrap();
    let group = store.group("h1").unwrap().unwrap().summary;
    let n = Notification::new(Reason::New, group, o, "p", "https://app/dev/error/h1".into());
    assert!(n.body.contains("<script>alert(1)</script> & more"), "{}", n.body);
    assert!(n.body.contains("Details:    https://app/dev/error/h1"), "{}", n.body);
    assert!(n.body.contains("Count:      1"), "{}", n.body);
    assert!(n.body.contains("password = \"**************\""), "{}", n.body);
    let html = n.html_body();
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"), "{html}");
    assert!(html.contains("q=&lt;b&gt;"), "{html}");
    assert!(!html.contains("<script>"), "{html}");
}

#[test]
fn the_worker_notifies_raises_one_ticket_then_updates_it() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
    let (inbox, tickets) = (Inbox::default(), Tickets::default());
    let config = Config::default()
        .notifier(inbox.clone())
        .ticketing(tickets.clone())
        .ui_base_url("https://app.example.com/")
        .notify_every(2);
    let (mut d, shared) = dispatcher(&config, store.clone());

    let mut write = |batch: Vec<Grouped>| {
        let changes = store.write(&batch).unwrap();
        d.after_write(&changes, &batch);
        assert!(shared.wait_idle(Duration::from_secs(10)));
    };
    write(vec![grouped("h1", "first")]);
    write(vec![grouped("h1", "second"), grouped("h1", "third")]);
    store.set_status("h1", Status::Resolved).unwrap();
    write(vec![grouped("h1", "back")]);

    let sent = inbox.sent.lock().unwrap();
    let reasons: Vec<Reason> = sent.iter().map(|n| n.reason).collect();
    assert_eq!(reasons, [Reason::New, Reason::Every(2), Reason::Regressed]);
    assert_eq!(sent[0].url, "https://app.example.com/dev/error/group/h1");
    assert_eq!(sent[1].occurrence.message, "third", "the latest occurrence of the batch");
    assert_eq!(sent[2].group.count, 4);
    let calls = tickets.0.lock().unwrap().clone();
    assert_eq!(calls, ["create h1", "update T-1 Every(2) count=3", "update T-1 Regressed count=4"]);
    let g = store.group("h1").unwrap().unwrap().summary;
    assert!(g.notification_sent);
    assert_eq!(g.ticket_raised.as_deref(), Some("T-1"));
    let status = shared.snapshot();
    assert_eq!((status.sent, status.failed, status.pending, status.dropped), (6, 0, 0, 0));
}

#[test]
fn a_failing_notifier_is_retried_kept_and_delivered_once_it_answers() {
    for store in [Arc::new(MemoryStore::default()) as Arc<dyn Store>, Arc::new(NoOutbox(MemoryStore::default()))] {
        let inbox = Inbox::default();
        *inbox.failing.lock().unwrap() = true;
        let config = Config::default().notifier(inbox.clone()).notify_retry(3, Duration::from_millis(1));
        let (mut d, shared) = dispatcher(&config, store.clone());
        let batch = vec![grouped("h1", "boom")];
        d.after_write(&store.write(&batch).unwrap(), &batch);
        let status = wait_for(&shared, "the channel goes down", |s| s.channels[0].down_since.is_some());
        assert_eq!((status.sent, status.failed, status.retries, status.pending), (0, 0, 2, 1));
        let (_, last) = status.last_error.expect("the last error is kept");
        assert!(last.starts_with("notifier: cannot reach http://127.0.0.1:9: refused"), "{last}");
        assert!(!store.group("h1").unwrap().unwrap().summary.notification_sent);
        assert!(!shared.wait_idle(Duration::from_millis(50)), "a channel that is down is not idle");

        *inbox.failing.lock().unwrap() = false;
        assert!(shared.wait_idle(Duration::from_secs(20)), "{:#?}", shared.snapshot());
        let status = shared.snapshot();
        assert_eq!((status.sent, status.failed, status.channels[0].down_since), (1, 0, None));
        assert_eq!(inbox.sent.lock().unwrap().len(), 1, "delivered once");
        assert!(store.group("h1").unwrap().unwrap().summary.notification_sent);
    }
}

#[test]
fn a_hanging_channel_delays_no_other() {
    struct Hangs(Arc<Mutex<()>>);
    impl Notifier for Hangs {
        fn notify(&self, _: &Notification) -> Result<(), NotifyError> {
            drop(self.0.lock().unwrap());
            Ok(())
        }
        fn channel_name(&self) -> String {
            "hangs".into()
        }
    }
    let gate = Arc::new(Mutex::new(()));
    let held = gate.lock().unwrap();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
    let inbox = Inbox::default();
    let config = Config::default().notifier(Hangs(gate.clone())).notifier(inbox.clone());
    let (mut d, shared) = dispatcher(&config, store.clone());
    for i in 0..3 {
        let batch = vec![grouped(&format!("g{i}"), "x")];
        d.after_write(&store.write(&batch).unwrap(), &batch);
    }
    let s = wait_for(&shared, "the inbox gets all 3 while the other channel hangs", |s| s.channels[1].sent == 3);
    assert_eq!((s.channels[0].name.as_str(), s.channels[0].sent), ("hangs", 0));
    assert_eq!(s.channels[1].name, "notifier");
    drop(held);
    assert!(shared.wait_idle(Duration::from_secs(10)));
    assert_eq!(shared.snapshot().channels[0].sent, 3);
}

#[test]
fn a_panicking_notifier_does_not_kill_the_worker() {
    struct Panics;
    impl Notifier for Panics {
        fn notify(&self, _: &Notification) -> Result<(), NotifyError> {
            panic!("notifier bug")
        }
    }
    let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
    let inbox = Inbox::default();
    let config = Config::default().notifier(Panics).notifier(inbox.clone()).notify_retry(1, Duration::from_millis(1));
    let (mut d, shared) = dispatcher(&config, store.clone());
    for hash in ["a", "b"] {
        let batch = vec![grouped(hash, "x")];
        d.after_write(&store.write(&batch).unwrap(), &batch);
    }
    assert!(shared.wait_idle(Duration::from_secs(10)));
    assert_eq!(inbox.sent.lock().unwrap().len(), 2);
    assert_eq!(shared.snapshot().failed, 2);
}

#[test]
fn a_full_queue_waits_in_the_outbox_or_without_one_drops_and_counts() {
    struct Slow(Arc<Mutex<()>>);
    impl Notifier for Slow {
        fn notify(&self, _: &Notification) -> Result<(), NotifyError> {
            drop(self.0.lock().unwrap());
            Ok(())
        }
    }
    for kept in [true, false] {
        let gate = Arc::new(Mutex::new(()));
        let held = gate.lock().unwrap();
        let store: Arc<dyn Store> =
            if kept { Arc::new(MemoryStore::default()) } else { Arc::new(NoOutbox(MemoryStore::default())) };
        let config = Config::default().notifier(Slow(gate.clone())).notify_queue_size(8);
        let (mut d, shared) = dispatcher(&config, store.clone());
        let batch: Vec<Grouped> = (0..58).map(|i| grouped(&format!("g{i}"), "x")).collect();
        d.after_write(&store.write(&batch).unwrap(), &batch);
        drop(held);
        assert!(shared.wait_idle(Duration::from_secs(10)));
        let s = shared.snapshot();
        if kept {
            assert!(s.channels[0].overflowed >= 49, "{s:?}");
            assert_eq!((s.dropped, s.sent), (0, 58), "{s:?}");
        } else {
            assert!(s.dropped >= 49 && s.dropped + s.sent == batch.len() as u64, "{s:?}");
        }
    }
}

#[test]
fn settings_are_read_from_the_environment() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |n: &str| pairs.iter().find(|(k, _)| *k == n).map(|(_, v)| (*v).to_owned())
    };
    let s = NotifySettings::from_lookup(&env(&[
        ("APP_ERROR_SMTP_HOST", "mail.local"),
        ("APP_ERROR_SMTP_TLS", "tls"),
        ("APP_ERROR_SMTP_USER", "u"),
        ("APP_ERROR_SMTP_PASSWORD", "p"),
        ("APP_ERROR_NOTIFY_EVERY", "50"),
        ("APP_ERROR_NOTIFY_INTERVAL_SECS", "600"),
        ("APP_ERROR_UI_BASE_URL", "https://x/"),
    ]))
    .unwrap();
    let smtp = s.smtp.unwrap();
    assert_eq!((smtp.host.as_str(), smtp.port, smtp.tls), ("mail.local", 465, SmtpTls::Tls));
    assert_eq!((s.every, s.interval), (Some(50), Some(Duration::from_secs(600))));
    assert_eq!(s.ui_base_url, "https://x");
    let e = NotifySettings::from_lookup(&env(&[("APP_ERROR_SMTP_HOST", "m"), ("APP_ERROR_SMTP_PORT", "x")]));
    assert!(matches!(e, Err(InitError::InvalidSetting { name: "APP_ERROR_SMTP_PORT", .. })));

    let s = NotifySettings::from_lookup(&env(&[
        ("APP_ERROR_SMTP_HOST", "mail.local"),
        ("APP_ERROR_SMTP_TIMEOUT_SECS", "30"),
        ("APP_ERROR_WEBHOOK_URL", "https://hooks.local/secret-path"),
        ("APP_ERROR_SLACK_WEBHOOK_URL", "https://hooks.slack.local/T/B/X"),
        ("APP_ERROR_HTTP_TIMEOUT_SECS", "4"),
        ("APP_ERROR_NOTIFY_RETRIES", "5"),
        ("APP_ERROR_NOTIFY_BACKOFF_MS", "250"),
        ("APP_ERROR_NOTIFY_QUEUE_SIZE", "1000"),
        ("APP_ERROR_GITHUB_REPO", "acme/shop"),
        ("APP_ERROR_GITHUB_TOKEN", "ghp_x"),
        ("APP_ERROR_GITHUB_API_URL", "https://ghe.local/api/v3/"),
    ]))
    .unwrap();
    assert_eq!(s.smtp.as_ref().unwrap().timeout, Duration::from_secs(30));
    assert_eq!(s.env.webhook_url.as_deref(), Some("https://hooks.local/secret-path"));
    assert_eq!(s.env.slack_url.as_deref(), Some("https://hooks.slack.local/T/B/X"));
    assert_eq!(s.env.http_timeout, Some(Duration::from_secs(4)));
    assert_eq!((s.retry(), s.queue_size()), ((5, Duration::from_millis(250)), 1000));
    assert_eq!(s.env.github, Some(("acme/shop".to_owned(), "ghp_x".to_owned())));
    assert_eq!(s.env.github_api_url.as_deref(), Some("https://ghe.local/api/v3"));
    assert!(!format!("{s:?}").contains("secret-path") && !format!("{s:?}").contains("ghp_x"), "{s:?}");

    let s = NotifySettings::from_lookup(&env(&[
        ("APP_ERROR_JIRA_URL", "https://acme.atlassian.net"),
        ("APP_ERROR_JIRA_PROJECT", "OPS"),
        ("APP_ERROR_JIRA_EMAIL", "bot@acme.com"),
        ("APP_ERROR_JIRA_TOKEN", "t"),
    ]))
    .unwrap();
    assert_eq!(s.env.jira.as_ref().map(|j| j.1.as_str()), Some("OPS"));
    let s = NotifySettings::from_lookup(&env(&[("APP_ERROR_TICKET_WEBHOOK_URL", "http://t.local/hook")])).unwrap();
    assert_eq!(s.env.ticket_webhook_url.as_deref(), Some("http://t.local/hook"));

    for (bad, name) in [
        (&[("APP_ERROR_WEBHOOK_URL", "hooks.local")][..], "APP_ERROR_WEBHOOK_URL"),
        (&[("APP_ERROR_NOTIFY_QUEUE_SIZE", "0")][..], "APP_ERROR_NOTIFY_QUEUE_SIZE"),
        (&[("APP_ERROR_NOTIFY_RETRIES", "0")][..], "APP_ERROR_NOTIFY_RETRIES"),
        (&[("APP_ERROR_HTTP_TIMEOUT_SECS", "soon")][..], "APP_ERROR_HTTP_TIMEOUT_SECS"),
        (&[("APP_ERROR_GITHUB_REPO", "acme/shop")][..], "APP_ERROR_GITHUB_TOKEN"),
        (&[("APP_ERROR_JIRA_URL", "https://j.local")][..], "APP_ERROR_JIRA_PROJECT"),
    ] {
        let owned: Vec<(String, String)> = bad.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let e = NotifySettings::from_lookup(&|n: &str| owned.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()));
        assert!(matches!(&e, Err(InitError::InvalidSetting { name: n, .. }) if *n == name), "{bad:?}: {e:?}");
    }
}

#[test]
fn send_notification_false_wins_over_notifiers_and_ticketing_in_code() {
    let env = |name: &str| (name == "APP_ERROR_SEND_NOTIFICATION").then(|| "false".to_owned());
    let from_env = Config::from_lookup(env).unwrap().notifier(Inbox::default()).ticketing(Tickets::default());
    assert!(sinks(&from_env.notify_setup()).unwrap().is_empty());
    assert!(!from_env.get_send_notification());
    let in_code = Config::default().notifier(Inbox::default()).ticketing(Tickets::default()).send_notification(false);
    assert!(sinks(&in_code.notify_setup()).unwrap().is_empty());
    // Without the setting, what the code gives is on: ticketing alone too.
    assert_eq!(sinks(&Config::default().ticketing(Tickets::default()).notify_setup()).unwrap().len(), 1);
    assert_eq!(sinks(&Config::default().notifier(Inbox::default()).notify_setup()).unwrap().len(), 1);
}

#[test]
fn ticketing_alone_sets_notification_sent() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
    let tickets = Tickets::default();
    let (mut d, shared) = dispatcher(&Config::default().ticketing(tickets.clone()), store.clone());
    let batch = vec![grouped("h1", "x")];
    d.after_write(&store.write(&batch).unwrap(), &batch);
    assert!(shared.wait_idle(Duration::from_secs(10)));
    let g = store.group("h1").unwrap().unwrap().summary;
    assert!(g.notification_sent && g.ticket_raised.as_deref() == Some("T-1"), "{g:?}");
    assert_eq!(shared.snapshot().channels[0].name, "ticketing");
}

#[test]
fn channels_are_named_by_kind_and_numbered() {
    let config = Config::default().notifier(Inbox::default()).notifier(Inbox::default()).ticketing(Tickets::default());
    let names: Vec<String> =
        worker::name_channels(sinks(&config.notify_setup()).unwrap()).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["notifier", "notifier-2", "ticketing"]);
}

#[test]
fn without_the_email_feature_asking_for_mail_is_a_clear_error() {
    let config = Config::default().send_notification(true).recipient_emails(["a@example.com"]);
    let err = sinks(&config.notify_setup()).err().expect("an error");
    if cfg!(feature = "email") {
        // With the feature, the missing SMTP server is named.
        assert!(matches!(err, InitError::InvalidSetting { name: "APP_ERROR_SMTP_HOST", .. }), "{err}");
    } else {
        assert!(matches!(err, InitError::FeatureDisabled { feature: "email", .. }), "{err}");
    }
}
