//! The notification outbox (issue 15) on every store that keeps one:
//! SQLite on a real file, PostgreSQL (`ERROR_TRACKER_TEST_PG`, a schema of
//! its own per test; under `CI=true` it must be set) and the in-memory store.

use std::sync::Arc;
use std::time::Duration;

use error_tracker::{
    GroupQuery, Grouped, MemoryStore, Occurrence, PageRequest, PendingNotification, SqliteStore, Store, Timestamp,
};

mod pg_schema;

fn occurrence(message: &str) -> Occurrence {
    serde_json::from_value(serde_json::json!({
        "id": "00000000-0000-4000-8000-000000000001",
        "exception_name": "app::OutboxError",
        "message": message,
        "thread": null, "timestamp": Timestamp::now().to_string(), "host": "web-1", "pid": 1,
        "release": null, "panic": null, "request": null,
    }))
    .unwrap()
}

fn pending(channel: &str, hash: &str, kind: &str, id: &str) -> PendingNotification {
    PendingNotification {
        id: id.to_owned(),
        channel: channel.to_owned(),
        hash: hash.to_owned(),
        kind: kind.to_owned(),
        payload: format!(r#"{{"id":"{id}"}}"#),
        created_on: Timestamp::now(),
    }
}

fn sent(store: &dyn Store, hash: &str) -> bool {
    store.group(hash).unwrap().expect("the group").summary.notification_sent
}

/// What every store's outbox must do. `other` is a second handle on the
/// same database, as another process would have.
fn outbox_properties(store: Arc<dyn Store>, other: Arc<dyn Store>) {
    let batch: Vec<Grouped> = ["g1", "g2"].iter().map(|h| Grouped::new(*h, occurrence(h))).collect();
    store.write(&batch).unwrap();
    store.set_notification_sent("g1", true).unwrap();
    let lease = Duration::from_secs(300);

    // Kept with a claim: nobody else takes it meanwhile; the group owes it.
    store
        .put_pending_notifications(
            &[
                pending("email", "g1", "new", "n1"),
                pending("webhook", "g1", "new", "n1"),
                pending("email", "g2", "new", "n2"),
            ],
            lease,
        )
        .unwrap();
    assert!(!sent(&*store, "g1"), "notification_sent is 0 while a channel owes the group");
    assert!(other.claim_pending_notifications("email", 10, lease).unwrap().is_empty(), "claimed by the putter");
    // A row for a group that does not exist (deleted meanwhile) is not kept.
    store.put_pending_notifications(&[pending("email", "nope", "new", "n9")], lease).unwrap();

    // Released: another process takes it, once.
    store.release_pending_notification("email", "n1").unwrap();
    let taken = other.claim_pending_notifications("email", 10, lease).unwrap();
    assert_eq!(taken.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["n1"]);
    assert_eq!((taken[0].hash.as_str(), taken[0].kind.as_str()), ("g1", "new"));
    assert_eq!(taken[0].payload, r#"{"id":"n1"}"#);
    assert!(store.claim_pending_notifications("email", 10, lease).unwrap().is_empty(), "now the other's");

    // A claim that runs out is free again.
    store.release_pending_notification("email", "n2").unwrap();
    assert_eq!(store.claim_pending_notifications("email", 10, Duration::ZERO).unwrap().len(), 1);
    assert_eq!(other.claim_pending_notifications("email", 10, lease).unwrap().len(), 1, "the zero lease ran out");

    // Delivered on one channel: still owed on the other, then sent.
    assert!(other.finish_pending_notification("email", "n1", true).unwrap());
    assert!(!other.finish_pending_notification("email", "n1", true).unwrap(), "finished once");
    assert!(!sent(&*store, "g1"), "the webhook still owes it");
    assert!(store.finish_pending_notification("webhook", "n1", true).unwrap());
    assert!(sent(&*store, "g1"), "delivered everywhere");

    // Given up: forgotten, and the flag not set (nobody delivered it).
    assert!(other.finish_pending_notification("email", "n2", false).unwrap());
    assert!(!sent(&*store, "g2"));

    // Delivered on one channel and given up on the other, in either order: sent.
    for (first, then) in [(true, false), (false, true)] {
        store
            .put_pending_notifications(
                &[pending("email", "g2", "regressed", "r1"), pending("webhook", "g2", "regressed", "r1")],
                lease,
            )
            .unwrap();
        assert!(!sent(&*store, "g2"));
        assert!(store.finish_pending_notification("email", "r1", first).unwrap());
        assert!(!sent(&*store, "g2"), "the other channel still owes it");
        assert!(store.finish_pending_notification("webhook", "r1", then).unwrap());
        assert!(sent(&*store, "g2"), "delivered by one, given up by the other ({first}, {then})");
        assert!(!store.finish_pending_notification("email", "r1", true).unwrap(), "nothing left of it");
    }

    // One row per (channel, group, kind): a later one replaces it.
    store.put_pending_notifications(&[pending("email", "g2", "every", "e1")], Duration::ZERO).unwrap();
    store.put_pending_notifications(&[pending("email", "g2", "every", "e2")], Duration::ZERO).unwrap();
    let rows = store.claim_pending_notifications("email", 10, lease).unwrap();
    assert_eq!(rows.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["e2"]);

    // Oldest first, at most `limit`.
    for i in 0..5 {
        store
            .put_pending_notifications(&[pending("slack", "g1", &format!("k{i}"), &format!("s{i}"))], Duration::ZERO)
            .unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    let first = store.claim_pending_notifications("slack", 3, lease).unwrap();
    assert_eq!(first.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["s0", "s1", "s2"]);

    // Deleting the group deletes what it was owed.
    store.delete_group("g1").unwrap();
    store.release_pending_notification("slack", "s0").unwrap();
    assert!(store.claim_pending_notifications("slack", 10, lease).unwrap().is_empty());
    let q = GroupQuery { page: PageRequest::first(10), ..Default::default() };
    assert_eq!(store.list_groups(&q).unwrap().total, 1);
}

/// Two processes claiming at once take each row once between them.
fn concurrent_claims_are_disjoint(store: Arc<dyn Store>, other: Arc<dyn Store>) {
    store.write(&[Grouped::new("c1", occurrence("c1"))]).unwrap();
    let rows: Vec<PendingNotification> =
        (0..200).map(|i| pending("email", "c1", &format!("k{i}"), &format!("c{i}"))).collect();
    store.put_pending_notifications(&rows, Duration::ZERO).unwrap();
    let claim = |s: Arc<dyn Store>| {
        std::thread::spawn(move || {
            let mut got = Vec::new();
            loop {
                let batch = s.claim_pending_notifications("email", 7, Duration::from_secs(300)).unwrap();
                if batch.is_empty() {
                    return got;
                }
                got.extend(batch.into_iter().map(|p| p.id));
            }
        })
    };
    let (a, b) = (claim(store), claim(other));
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    let mut all: Vec<String> = a.iter().chain(&b).cloned().collect();
    all.sort();
    all.dedup();
    assert_eq!((a.len() + b.len(), all.len()), (200, 200), "each row claimed once: {} and {}", a.len(), b.len());
}

#[test]
fn the_sqlite_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.sqlite");
    let store = Arc::new(SqliteStore::open(&path, 10).unwrap());
    let other = Arc::new(SqliteStore::open(&path, 10).unwrap());
    outbox_properties(store.clone(), other.clone());
    concurrent_claims_are_disjoint(store, other);
}

#[test]
fn the_memory_outbox() {
    let store = Arc::new(MemoryStore::default());
    outbox_properties(store.clone(), store.clone());
    concurrent_claims_are_disjoint(store.clone(), store);
}

#[cfg(feature = "postgres")]
#[test]
fn the_postgres_outbox() {
    let Some(server) = pg_schema::server("the_postgres_outbox") else {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "under CI=true, ERROR_TRACKER_TEST_PG must be set");
        return;
    };
    let schema = pg_schema::TestSchema::create(&server, "outbox");
    let store = Arc::new(error_tracker::PostgresStore::open(&schema.url, 10).unwrap());
    let other = Arc::new(error_tracker::PostgresStore::open(&schema.url, 10).unwrap());
    outbox_properties(store.clone(), other.clone());
    concurrent_claims_are_disjoint(store, other);
}
