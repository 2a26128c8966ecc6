//! The queue overflows while the SQLite file is locked by another
//! connection (the writer stalls), for errors whose group is their message.
//!
//! With no in-app frame, the writer groups by the message (numbers, hex and
//! ids replaced): 30,000 distinct messages from one call site, counted in
//! the overflow counters, must land in the groups that the writer makes of
//! them, with their exact counts; not all under the first message's.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use error_tracker::{Config, Occurrence, Timestamp, default_fingerprint, record_exception};

const MESSAGES: usize = 30_000;
/// The groups the messages make: the items differ only in their number.
const KINDS: usize = 300;

#[derive(Debug)]
struct Failed(String);

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Failed {}

/// `n` in letters that are neither digits nor hex, so kept by normalization.
fn word(mut n: usize) -> String {
    let mut w = String::new();
    loop {
        w.push(char::from(b'g' + (n % 20) as u8));
        n /= 20;
        if n == 0 {
            return w;
        }
    }
}

fn message(i: usize) -> String {
    format!("{} store refused item {i}", word(i % KINDS))
}

/// The group the writer makes of a message-only occurrence, by the public
/// default fingerprint.
fn expected_group(message: &str) -> String {
    default_fingerprint(&Occurrence {
        id: String::new(),
        exception_name: std::any::type_name::<Failed>().to_owned(),
        message: message.to_owned(),
        sources: Vec::new(),
        backtrace: Vec::new(),
        thread: None,
        timestamp: Timestamp::now(),
        host: String::new(),
        pid: 0,
        release: None,
        panic: None,
        frames: Vec::new(),
        request: None,
        extra: Vec::new(),
    })
}

#[test]
fn distinct_messages_from_one_site_are_counted_in_their_own_groups() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path: PathBuf = dir.path().join("overflow.sqlite");
    let config = Config::default()
        .database(path.to_str().expect("utf-8 path"))
        // A small queue: almost everything overflows into the counters.
        .queue_capacity(16)
        // No frame is in-app: every group is decided by the message.
        .in_app(["no_such_crate::"]);
    let _guard = error_tracker::init(config).expect("init");
    assert!(error_tracker::flush(Duration::from_secs(60)), "an idle writer is flushed");

    let locker = rusqlite::Connection::open(&path).expect("open a second connection");
    locker.execute_batch("BEGIN EXCLUSIVE").expect("lock the database");
    for i in 0..MESSAGES {
        // One call site for all of them.
        record_exception!(Failed(message(i)));
    }
    assert!(!error_tracker::flush(Duration::from_millis(300)), "the writer cannot store while the file is locked");
    locker.execute_batch("COMMIT").expect("release the lock");
    drop(locker);
    assert!(error_tracker::flush(Duration::from_secs(600)), "the writer did not flush in time");

    let mut expected: HashMap<String, i64> = HashMap::new();
    for i in 0..MESSAGES {
        *expected.entry(expected_group(&message(i))).or_default() += 1;
    }
    assert_eq!(expected.len(), KINDS);
    let db = rusqlite::Connection::open(&path).expect("open the database");
    let mut stmt = db.prepare("SELECT hash, count FROM exceptions").expect("prepare");
    let stored: HashMap<String, i64> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query groups")
        .collect::<Result<_, _>>()
        .expect("read groups");
    assert_eq!(stored.values().sum::<i64>(), MESSAGES as i64, "every occurrence counted, once");
    assert_eq!(stored, expected, "the groups and counts the writer makes without an overflow");
}
