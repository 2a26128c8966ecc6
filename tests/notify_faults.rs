//! Notification faults end to end (issue 15), each in a child process of its
//! own (this binary run again, see `child`) with its settings from
//! `APP_ERROR_*` variables, against an SMTP server and an HTTP receiver
//! that this test starts on loopback and makes slow, hanging or down.
//!
//! Each test prints what each peer received and when (seconds since the
//! child started): `cargo test --features notify --test notify_faults -- --nocapture`.
#![cfg(feature = "notify")]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use error_tracker::notify::WebhookNotifier;
use error_tracker::notify::ticketing::GithubIssues;
use error_tracker::{GroupQuery, PageRequest, SqliteStore, StoreQuery, record_exception};
use error_tracker_suite::peers::{Answer, HttpServer, Request, SmtpMode, SmtpServer};
use error_tracker_suite::{spawn_child, temp_db, wait_child};

// ---------------------------------------------------------------- the child

#[derive(Debug)]
struct FaultError;

/// Not a test on its own: the body of a child process, run when
/// `NOTIFY_CHILD_DB` is set. Records `NOTIFY_GROUPS` groups (the `message`
/// extra is the fingerprint) `NOTIFY_REPEAT` times each, waits up to
/// `NOTIFY_WAIT_SECS` for the notifications, and prints the status and the
/// groups.
#[test]
fn child() {
    let Ok(db) = std::env::var("NOTIFY_CHILD_DB") else { return };
    let var = |name: &str, default: u64| std::env::var(name).map_or(default, |v| v.parse().unwrap());
    let (groups, repeat, wait) = (var("NOTIFY_GROUPS", 0), var("NOTIFY_REPEAT", 1), var("NOTIFY_WAIT_SECS", 30));
    let mut config = error_tracker::Config::from_env()
        .expect("the settings")
        .database(&db)
        // One group per `message` extra: hex of its text.
        .fingerprint(|o| {
            o.extra.iter().flat_map(|v| v.value.to_string().into_bytes()).map(|b| format!("{b:02x}")).collect()
        })
        .flush_timeout(Duration::from_secs(var("NOTIFY_EXIT_SECS", 2)));
    if let Ok(base) = std::env::var("NOTIFY_CODE_PEER") {
        // Channels given in code, for APP_ERROR_SEND_NOTIFICATION=false to switch off.
        config = config
            .notifier(WebhookNotifier::new(format!("{base}/hook")))
            .ticketing(GithubIssues::new("acme/shop", "ghp_test").api_url(&base));
    }
    let guard = error_tracker::init(config).expect("init");
    for g in 0..groups {
        for _ in 0..repeat {
            record_exception!(FaultError, "message" => format!("fault group {g}"));
        }
    }
    assert!(error_tracker::flush(Duration::from_secs(60)), "the writer flushed");
    let delivered = match std::env::var("NOTIFY_WAIT_CHANNEL") {
        // Until that channel has delivered all (another may be down).
        Ok(name) => {
            let deadline = Instant::now() + Duration::from_secs(wait);
            loop {
                let s = error_tracker::notify::status().expect("the workers run");
                let c = s.channels.iter().find(|c| c.name == name).expect("the channel");
                if c.pending + c.waiting == 0 || Instant::now() > deadline {
                    break error_tracker::notify::flush(Duration::ZERO);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Err(_) => error_tracker::notify::flush(Duration::from_secs(wait)),
    };
    println!("DELIVERED {delivered}");
    match error_tracker::notify::status() {
        Some(s) => {
            for c in &s.channels {
                println!(
                    "CHANNEL {} sent={} failed={} unconfirmed={} retries={} pending={} waiting={} overflowed={} dropped={} last_error={:?}",
                    c.name,
                    c.sent,
                    c.failed,
                    c.unconfirmed,
                    c.retries,
                    c.pending,
                    c.waiting,
                    c.overflowed,
                    c.dropped,
                    c.last_error.as_ref().map(|(_, e)| e)
                );
            }
        }
        None => println!("NO-WORKER"),
    }
    drop(guard);
}

/// The child's `CHANNEL` lines: name → (field → value).
fn channels(out: &str) -> HashMap<String, HashMap<String, String>> {
    out.lines()
        .filter_map(|l| l.split_once("CHANNEL ").map(|(_, rest)| rest))
        .map(|rest| {
            let mut words = rest.split(' ');
            let name = words.next().unwrap().to_owned();
            let fields = words.filter_map(|w| w.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
            (name, fields)
        })
        .collect()
}

fn field(out: &str, channel: &str, name: &str) -> u64 {
    let all = channels(out);
    let c = all.get(channel).unwrap_or_else(|| panic!("no channel {channel} in\n{out}"));
    c[name].parse().unwrap_or_else(|_| panic!("{channel}.{name} in\n{out}"))
}

/// The groups of a child's database: hash → notification_sent.
fn groups_sent(db: &std::path::Path) -> BTreeMap<String, bool> {
    let store = SqliteStore::open(db, 100).expect("open");
    let q = GroupQuery { page: PageRequest { page: 1, per_page: 10_000 }, ..Default::default() };
    store.list_groups(&q).unwrap().items.into_iter().map(|g| (g.hash, g.notification_sent)).collect()
}

/// What the outbox still owes, per channel.
fn outbox(db: &std::path::Path) -> BTreeMap<String, u64> {
    let conn = rusqlite::Connection::open(db).unwrap();
    // Delivered rows stay as markers (lease_until = i64::MAX) while another channel owes the group.
    let sql =
        "SELECT channel, count(*) FROM notification_outbox WHERE lease_until < 9223372036854775807 GROUP BY channel";
    let mut stmt = conn.prepare(sql).unwrap();
    stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

// ---------------------------------------------------------------- the HTTP receiver

/// How the HTTP receiver answers: `/hang` never (the connection is held
/// until the client gives up), GitHub's issues API with numbered issues,
/// everything else `{}`.
fn http() -> HttpServer {
    let counter = AtomicU64::new(0);
    HttpServer::start(move |r: &Request, base: &str| match r.path.as_str() {
        "/hang" => Answer::Hang(Duration::from_secs(60)),
        "/repos/acme/shop/issues" => {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            Answer::Json(200, format!(r#"{{"number":{n},"html_url":"{base}/acme/shop/issues/{n}"}}"#))
        }
        _ => Answer::Json(200, "{}".to_owned()),
    })
}

// ---------------------------------------------------------------- helpers

/// The settings of every child: the database, a short backoff, and the test's peers.
fn child_env<'a>(db: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![
        ("NOTIFY_CHILD_DB", db),
        ("APP_ERROR_NOTIFY_RETRIES", "3"),
        ("APP_ERROR_NOTIFY_BACKOFF_MS", "50"),
        ("APP_ERROR_UI_BASE_URL", "http://ui.test"),
    ];
    env.extend_from_slice(extra);
    env
}

fn email_env(port: &str) -> [(&str, &str); 5] {
    [
        ("APP_ERROR_SEND_NOTIFICATION", "true"),
        ("APP_ERROR_SMTP_HOST", "127.0.0.1"),
        ("APP_ERROR_SMTP_PORT", port),
        ("APP_ERROR_SMTP_TLS", "none"),
        ("APP_ERROR_EMAIL_SENDER", "errors@example.com"),
    ]
}

/// Waits (bounded) for `f`, failing with `what` after a generous deadline.
fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn times(at: impl IntoIterator<Item = Duration>) -> String {
    at.into_iter().map(|d| format!("{:.2}s", d.as_secs_f64())).collect::<Vec<_>>().join(", ")
}

// ---------------------------------------------------------------- item 1

#[test]
fn a_hanging_webhook_does_not_delay_email() {
    let (smtp, http) = (SmtpServer::start(SmtpMode::Up), http());
    let db = temp_db("hanging.sqlite");
    let port = smtp.port.to_string();
    let hook = format!("{}/hang", http.base);
    let mut env = child_env(db.to_str().unwrap(), &[("NOTIFY_GROUPS", "3"), ("APP_ERROR_HTTP_TIMEOUT_SECS", "2")]);
    env.extend_from_slice(&email_env(&port));
    env.extend_from_slice(&[("APP_ERROR_RECIPIENT_EMAIL", "oncall@example.com"), ("APP_ERROR_WEBHOOK_URL", &hook)]);
    let out = wait_child(spawn_child("child", &env));

    let mails = smtp.mails();
    let hooks = http.requests_to("/hang");
    println!(
        "hanging webhook: emails at [{}]; webhook tries at [{}]",
        times(mails.iter().map(|m| m.at)),
        times(hooks.iter().map(|r| r.at))
    );
    assert_eq!(mails.len(), 3, "one email per group\n{out}");
    assert_eq!(hooks.len(), 3, "one try per group: each was sent and never answered\n{out}");
    // Not a timing: every email was in before the webhook got its second request.
    let last_mail = mails.iter().map(|m| m.at).max().unwrap();
    assert!(last_mail < hooks[1].at, "the emails waited for the webhook\n{out}");
    assert_eq!((field(&out, "email", "sent"), field(&out, "webhook", "unconfirmed")), (3, 3), "{out}");
}

#[test]
fn with_smtp_down_in_a_storm_of_400_groups_the_webhook_gets_all_and_the_next_process_mails_all() {
    let (smtp, http) = (SmtpServer::start(SmtpMode::Down), http());
    let db = temp_db("storm.sqlite");
    let port = smtp.port.to_string();
    let hook = format!("{}/hook", http.base);
    let mut env = child_env(
        db.to_str().unwrap(),
        &[
            ("NOTIFY_GROUPS", "400"),
            ("NOTIFY_WAIT_SECS", "120"),
            ("NOTIFY_WAIT_CHANNEL", "webhook"),
            ("APP_ERROR_NOTIFY_QUEUE_SIZE", "16"),
        ],
    );
    env.extend_from_slice(&email_env(&port));
    env.extend_from_slice(&[("APP_ERROR_RECIPIENT_EMAIL", "oncall@example.com"), ("APP_ERROR_WEBHOOK_URL", &hook)]);
    let out = wait_child(spawn_child("child", &env));

    let hooks = http.requests_to("/hook");
    let groups: HashSet<String> = hooks
        .iter()
        .map(|r| {
            serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["group"]["hash"].as_str().unwrap().to_owned()
        })
        .collect();
    println!(
        "SMTP down: webhook posts {} (first {:.2}s, last {:.2}s), SMTP connections refused {}, emails {}",
        hooks.len(),
        hooks.first().map_or(0.0, |r| r.at.as_secs_f64()),
        hooks.last().map_or(0.0, |r| r.at.as_secs_f64()),
        smtp.refused(),
        smtp.mails().len()
    );
    assert_eq!((hooks.len(), groups.len()), (400, 400), "each group posted once to the healthy webhook\n{out}");
    assert!(smtp.mails().is_empty());
    assert!(field(&out, "webhook", "overflowed") > 0, "the queue of 16 overflowed into the outbox\n{out}");
    assert_eq!(field(&out, "webhook", "dropped") + field(&out, "email", "dropped"), 0, "{out}");
    assert!(out.contains("DELIVERED false"), "{out}");
    assert_eq!(outbox(&db), BTreeMap::from([("email".to_owned(), 400)]), "what email owes is kept");
    assert!(groups_sent(&db).values().all(|sent| !sent), "notification_sent stays 0 while email owes them");

    // The next process, with the mail server back, sends what is owed: each once.
    smtp.set(SmtpMode::Up);
    let next: Vec<(&str, &str)> = env
        .iter()
        .map(|(k, v)| match *k {
            "NOTIFY_GROUPS" => (*k, "0"),
            "NOTIFY_WAIT_SECS" => (*k, "120"),
            "NOTIFY_WAIT_CHANNEL" => (*k, "email"),
            _ => (*k, *v),
        })
        .collect();
    let out = wait_child(spawn_child("child", &next));
    let mails = smtp.mails();
    let ids: HashSet<String> = mails.iter().map(|m| m.header("Message-ID").expect("a Message-ID")).collect();
    println!(
        "next process: {} emails ({} Message-IDs) from {:.2}s to {:.2}s; webhook posts {}",
        mails.len(),
        ids.len(),
        mails.first().map_or(0.0, |m| m.at.as_secs_f64()),
        mails.last().map_or(0.0, |m| m.at.as_secs_f64()),
        http.requests_to("/hook").len()
    );
    assert_eq!((mails.len(), ids.len()), (400, 400), "{out}");
    assert_eq!(http.requests_to("/hook").len(), 400, "the webhook is owed nothing more");
    assert!(outbox(&db).is_empty());
    let sent = groups_sent(&db);
    assert!(sent.len() == 400 && sent.values().all(|s| *s), "notification_sent set on every group");
}

#[test]
fn smtp_that_comes_back_in_the_same_process_gets_what_it_missed_once() {
    let (smtp, http) = (SmtpServer::start(SmtpMode::Down), http());
    let db = temp_db("comes-back.sqlite");
    let port = smtp.port.to_string();
    let hook = format!("{}/hook", http.base);
    let mut env = child_env(db.to_str().unwrap(), &[("NOTIFY_GROUPS", "5"), ("NOTIFY_WAIT_SECS", "60")]);
    env.extend_from_slice(&email_env(&port));
    env.extend_from_slice(&[("APP_ERROR_RECIPIENT_EMAIL", "oncall@example.com"), ("APP_ERROR_WEBHOOK_URL", &hook)]);
    let child = spawn_child("child", &env);
    wait_until("the webhook got all 5 and SMTP was tried", || {
        http.requests_to("/hook").len() == 5 && smtp.refused() >= 3
    });
    smtp.set(SmtpMode::Up);
    let back = smtp.start.elapsed();
    let out = wait_child(child);
    let mails = smtp.mails();
    println!("SMTP back at {:.2}s: emails at [{}]", back.as_secs_f64(), times(mails.iter().map(|m| m.at)));
    let ids: HashSet<String> = mails.iter().map(|m| m.header("Message-ID").unwrap()).collect();
    assert_eq!((mails.len(), ids.len()), (5, 5), "each missed email once\n{out}");
    assert!(out.contains("DELIVERED true"), "{out}");
    assert_eq!((field(&out, "email", "sent"), field(&out, "email", "failed")), (5, 0), "{out}");
    assert!(field(&out, "email", "retries") >= 2, "{out}");
    assert!(groups_sent(&db).values().all(|s| *s));
}

// ---------------------------------------------------------------- item 2

#[test]
fn an_smtp_server_slower_than_the_timeout_gets_one_copy_reported_unconfirmed() {
    let smtp = SmtpServer::start(SmtpMode::SlowData(Duration::from_secs(3)));
    let db = temp_db("slow.sqlite");
    let port = smtp.port.to_string();
    let mut env = child_env(db.to_str().unwrap(), &[("NOTIFY_GROUPS", "1"), ("APP_ERROR_SMTP_TIMEOUT_SECS", "1")]);
    env.extend_from_slice(&email_env(&port));
    env.push(("APP_ERROR_RECIPIENT_EMAIL", "oncall@example.com"));
    let out = wait_child(spawn_child("child", &env));
    let mails = smtp.mails();
    println!(
        "SMTP answering DATA after 3 s, timeout 1 s: {} copy at [{}]",
        mails.len(),
        times(mails.iter().map(|m| m.at))
    );
    assert_eq!(mails.len(), 1, "{out}");
    let id = mails[0].header("Message-ID").expect("a Message-ID");
    assert!(id.starts_with('<') && id.ends_with("@example.com>"), "{id}");
    assert_eq!(
        (field(&out, "email", "sent"), field(&out, "email", "failed"), field(&out, "email", "unconfirmed")),
        (0, 0, 1),
        "{out}"
    );
    assert!(out.contains("may have been delivered"), "{out}");
}

// ---------------------------------------------------------------- item 3

#[test]
fn notify_every_in_a_storm_announces_every_multiple_once() {
    let http = http();
    let db = temp_db("every.sqlite");
    let hook = format!("{}/hook", http.base);
    let env = child_env(
        db.to_str().unwrap(),
        &[
            ("NOTIFY_GROUPS", "1"),
            ("NOTIFY_REPEAT", "10000"),
            ("APP_ERROR_NOTIFY_EVERY", "1000"),
            ("APP_ERROR_WEBHOOK_URL", &hook),
        ],
    );
    let out = wait_child(spawn_child("child", &env));
    let texts: Vec<String> =
        http.requests_to("/hook").iter().map(|r| r.json()["text"].as_str().unwrap().to_owned()).collect();
    // The first message ("new error") tells the count so far: the multiples
    // up to it are in it; each one after is announced alone or folded.
    let mut announced = Vec::new();
    for t in &texts {
        let why = t.lines().find(|l| l.starts_with("Why:")).unwrap().trim_start_matches("Why:").trim().to_owned();
        println!("notify_every=1000, 10000 occurrences: {why}");
        let nums: Vec<u64> =
            why.split(|c: char| !c.is_ascii_digit()).filter(|w| !w.is_empty()).map(|w| w.parse().unwrap()).collect();
        match nums.as_slice() {
            [] => {
                assert_eq!(why, "new error");
                let count: u64 = t.lines().find_map(|l| l.strip_prefix("Count:")).unwrap().trim().parse().unwrap();
                announced.extend((1..=count / 1000).map(|i| i * 1000));
            }
            [n] => announced.push(*n),
            [first, last, _count, every] => announced.extend((*first..=*last).step_by(*every as usize)),
            _ => panic!("{why}"),
        }
    }
    assert_eq!(announced, (1..=10).map(|i| i * 1000).collect::<Vec<_>>(), "each multiple once, in order\n{out}");
}

// ---------------------------------------------------------------- item 4

#[test]
fn send_notification_false_switches_off_what_the_code_configures() {
    let http = http();
    let db = temp_db("off.sqlite");
    let env = child_env(
        db.to_str().unwrap(),
        &[("NOTIFY_GROUPS", "2"), ("APP_ERROR_SEND_NOTIFICATION", "false"), ("NOTIFY_CODE_PEER", &http.base)],
    );
    let out = wait_child(spawn_child("child", &env));
    assert!(out.contains("NO-WORKER"), "{out}");
    assert_eq!(http.requests_to("/").len(), 0, "neither the webhook nor GitHub given in code was called");
    assert_eq!(groups_sent(&db).len(), 2);
}

// ---------------------------------------------------------------- items 5 and 6

#[test]
fn channels_from_the_environment_alone_each_deliver() {
    let http = http();
    let db = temp_db("env.sqlite");
    let (hook, slack) = (format!("{}/hook", http.base), format!("{}/slack", http.base));
    let env = child_env(
        db.to_str().unwrap(),
        &[
            ("NOTIFY_GROUPS", "2"),
            ("APP_ERROR_WEBHOOK_URL", &hook),
            ("APP_ERROR_SLACK_WEBHOOK_URL", &slack),
            ("APP_ERROR_GITHUB_REPO", "acme/shop"),
            ("APP_ERROR_GITHUB_TOKEN", "ghp_env"),
            ("APP_ERROR_GITHUB_API_URL", &http.base),
            ("APP_ERROR_HTTP_TIMEOUT_SECS", "5"),
            ("APP_ERROR_NOTIFY_QUEUE_SIZE", "4"),
        ],
    );
    let out = wait_child(spawn_child("child", &env));
    let (hooks, slacks, issues) =
        (http.requests_to("/hook"), http.requests_to("/slack"), http.requests_to("/repos/acme/shop/issues"));
    println!(
        "from the environment: webhook at [{}], slack at [{}], github at [{}]",
        times(hooks.iter().map(|r| r.at)),
        times(slacks.iter().map(|r| r.at)),
        times(issues.iter().map(|r| r.at))
    );
    assert_eq!((hooks.len(), slacks.len(), issues.len()), (2, 2, 2), "{out}");
    assert_eq!(issues[0].headers["authorization"], "Bearer ghp_env");
    for r in hooks.iter().chain(&slacks).chain(&issues) {
        assert_eq!(r.headers["idempotency-key"].len(), 36, "{r:?}");
    }
    let slack_text =
        serde_json::from_str::<serde_json::Value>(&slacks[0].body).unwrap()["text"].as_str().unwrap().to_owned();
    assert!(slack_text.contains("Backtrace") || slack_text.contains("message = "), "the traceback: {slack_text}");
    for name in ["webhook", "slack", "github"] {
        assert_eq!(field(&out, name, "sent"), 2, "{out}");
    }
    assert!(groups_sent(&db).values().all(|s| *s));
}

#[test]
fn ticketing_alone_sets_notification_sent() {
    let http = http();
    let db = temp_db("tickets.sqlite");
    let env = child_env(
        db.to_str().unwrap(),
        &[
            ("NOTIFY_GROUPS", "2"),
            ("APP_ERROR_GITHUB_REPO", "acme/shop"),
            ("APP_ERROR_GITHUB_TOKEN", "ghp_env"),
            ("APP_ERROR_GITHUB_API_URL", &http.base),
        ],
    );
    let out = wait_child(spawn_child("child", &env));
    assert_eq!(http.requests_to("/repos/acme/shop/issues").len(), 2, "{out}");
    let sent = groups_sent(&db);
    assert!(sent.len() == 2 && sent.values().all(|s| *s), "{sent:?}");
}

// ---------------------------------------------------------------- item 1 on PostgreSQL

/// The same as the SQLite storm, smaller, with the outbox in PostgreSQL
/// (`ERROR_TRACKER_TEST_PG`; a schema of its own, dropped at the end).
#[cfg(feature = "postgres")]
#[test]
fn on_postgresql_what_email_owes_is_sent_by_the_next_process() {
    let Ok(server) = std::env::var("ERROR_TRACKER_TEST_PG") else {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "under CI=true, ERROR_TRACKER_TEST_PG must be set");
        println!("skipped: set ERROR_TRACKER_TEST_PG to run it");
        return;
    };
    let schema = format!("et_notify_faults_{}", std::process::id());
    let mut admin = postgres::Client::connect(&server, postgres::NoTls).expect("connect to ERROR_TRACKER_TEST_PG");
    admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};")).unwrap();
    let sep = if server.contains('?') { '&' } else { '?' };
    let url = format!("{server}{sep}options=-c%20search_path%3D{schema}");

    let (smtp, http) = (SmtpServer::start(SmtpMode::Down), http());
    let port = smtp.port.to_string();
    let hook = format!("{}/hook", http.base);
    let mut env =
        child_env(&url, &[("NOTIFY_GROUPS", "50"), ("NOTIFY_WAIT_SECS", "120"), ("NOTIFY_WAIT_CHANNEL", "webhook")]);
    env.extend_from_slice(&email_env(&port));
    env.extend_from_slice(&[("APP_ERROR_RECIPIENT_EMAIL", "oncall@example.com"), ("APP_ERROR_WEBHOOK_URL", &hook)]);
    let out = wait_child(spawn_child("child", &env));
    assert_eq!((http.requests_to("/hook").len(), smtp.mails().len()), (50, 0), "{out}");
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let owed = |c: &mut postgres::Client| -> i64 {
        c.query_one(
            "SELECT count(*) FROM notification_outbox WHERE channel = 'email' AND lease_until < $1",
            &[&i64::MAX],
        )
        .unwrap()
        .get(0)
    };
    assert_eq!(owed(&mut client), 50);

    smtp.set(SmtpMode::Up);
    let next: Vec<(&str, &str)> = env
        .iter()
        .map(|(k, v)| match *k {
            "NOTIFY_GROUPS" => (*k, "0"),
            "NOTIFY_WAIT_CHANNEL" => (*k, "email"),
            _ => (*k, *v),
        })
        .collect();
    let out = wait_child(spawn_child("child", &next));
    let ids: HashSet<String> = smtp.mails().iter().map(|m| m.header("Message-ID").unwrap()).collect();
    println!("PostgreSQL: the next process sent {} emails ({} Message-IDs)", smtp.mails().len(), ids.len());
    assert_eq!((smtp.mails().len(), ids.len()), (50, 50), "{out}");
    assert_eq!(owed(&mut client), 0);
    let unsent: i64 =
        client.query_one("SELECT count(*) FROM exceptions WHERE NOT notification_sent", &[]).unwrap().get(0);
    assert_eq!(unsent, 0);
    drop(client);
    admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).unwrap();
}
