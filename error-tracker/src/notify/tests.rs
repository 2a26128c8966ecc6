//! The policy, the texts and the worker, through the crate-internal API and
//! the in-memory store. The real SMTP and HTTP peers are in tests/notify.rs.

use crate::store::{StoreQuery, StoreWrite};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::occurrence::{RequestContext, Variable};
use crate::store::MemoryStore;

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
    (Dispatcher::start(config, store, move || s).unwrap().expect("a dispatcher"), shared)
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
    // A folded batch that jumps over 200 and 300 notifies once, for 300.
    assert_eq!(d.decide(&change(ChangeKind::Recurring, 350, 249), now), Some(Reason::Every(300)));
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
fn a_failing_notifier_is_retried_then_given_up_and_counted() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
    let inbox = Inbox::default();
    *inbox.failing.lock().unwrap() = true;
    let config = Config::default().notifier(inbox.clone()).notify_retry(3, Duration::from_millis(1));
    let (mut d, shared) = dispatcher(&config, store.clone());
    let batch = vec![grouped("h1", "boom")];
    d.after_write(&store.write(&batch).unwrap(), &batch);
    assert!(shared.wait_idle(Duration::from_secs(10)));
    let status = shared.snapshot();
    assert_eq!((status.sent, status.failed, status.retries), (0, 1, 2));
    let (_, last) = status.last_error.expect("the last error is kept");
    assert!(last.contains("cannot reach http://127.0.0.1:9: refused"), "{last}");
    assert!(!store.group("h1").unwrap().unwrap().summary.notification_sent);
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
fn a_full_queue_drops_and_counts_instead_of_blocking() {
    struct Slow(Arc<Mutex<()>>);
    impl Notifier for Slow {
        fn notify(&self, _: &Notification) -> Result<(), NotifyError> {
            drop(self.0.lock().unwrap());
            Ok(())
        }
    }
    let gate = Arc::new(Mutex::new(()));
    let held = gate.lock().unwrap();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
    let (mut d, shared) = dispatcher(&Config::default().notifier(Slow(gate.clone())), store.clone());
    let batch: Vec<Grouped> = (0..QUEUE_CAPACITY + 50).map(|i| grouped(&format!("g{i}"), "x")).collect();
    d.after_write(&store.write(&batch).unwrap(), &batch);
    drop(held);
    assert!(shared.wait_idle(Duration::from_secs(10)));
    let s = shared.snapshot();
    assert!(s.dropped >= 49 && s.dropped + s.sent == batch.len() as u64, "{s:?}");
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
}

#[test]
fn without_the_email_feature_asking_for_mail_is_a_clear_error() {
    let config = Config::default().send_notification(true).recipient_emails(["a@example.com"]);
    let result = Dispatcher::start(&config, Arc::new(MemoryStore::default()), Default::default);
    let err = result.err().expect("an error");
    if cfg!(feature = "email") {
        // With the feature, the missing SMTP server is named.
        assert!(matches!(err, InitError::InvalidSetting { name: "APP_ERROR_SMTP_HOST", .. }), "{err}");
    } else {
        assert!(matches!(err, InitError::FeatureDisabled { feature: "email", .. }), "{err}");
    }
}
