//! The queue overflows while the SQLite file is locked by another
//! connection (the writer stalls), for errors with distinct messages from
//! one call site.
//!
//! The call site decides the group, not the message: the overflow counters
//! must fold them by the identity the writer uses, into the one group the
//! writer makes of them when nothing overflows, with the exact count; and
//! the counters must not keep one per message.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use error_tracker::{Config, record_exception};

mod common;
use common::{Failed, word};

const MESSAGES: usize = 30_000;
/// Kinds of messages: they differ in words too, not only in numbers.
const KINDS: usize = 300;

fn message(i: usize) -> String {
    format!("{} store refused item {i}", word(i % KINDS))
}

/// The one call site of the test's errors.
fn record(message: String) {
    record_exception!(Failed(message));
}

#[test]
fn distinct_messages_from_one_site_are_counted_in_their_own_groups() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path: PathBuf = dir.path().join("overflow.sqlite");
    let config = Config::default()
        .database(path.to_str().expect("utf-8 path"))
        // A small queue: almost everything overflows into the counters.
        .queue_capacity(16)
        // No frame is in-app: the stack cannot decide the group either.
        .in_app(["no_such_crate::"]);
    let _guard = error_tracker::init(config).expect("init");
    assert!(error_tracker::flush(Duration::from_secs(60)), "an idle writer is flushed");

    let locker = rusqlite::Connection::open(&path).expect("open a second connection");
    locker.execute_batch("BEGIN EXCLUSIVE").expect("lock the database");
    for i in 0..MESSAGES {
        record(message(i));
    }
    assert!(!error_tracker::flush(Duration::from_millis(300)), "the writer cannot store while the file is locked");
    locker.execute_batch("COMMIT").expect("release the lock");
    drop(locker);
    assert!(error_tracker::flush(Duration::from_secs(600)), "the writer did not flush in time");
    // One more, with nothing overflowing: the group the writer makes.
    record(message(MESSAGES));
    assert!(error_tracker::flush(Duration::from_secs(60)), "the writer did not flush in time");

    let db = rusqlite::Connection::open(&path).expect("open the database");
    let mut stmt = db.prepare("SELECT hash, count FROM exceptions").expect("prepare");
    let stored: HashMap<String, i64> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query groups")
        .collect::<Result<_, _>>()
        .expect("read groups");
    let counts: Vec<i64> = stored.values().copied().collect();
    assert_eq!(counts, [MESSAGES as i64 + 1], "one group, every occurrence counted once: {stored:?}");
}
