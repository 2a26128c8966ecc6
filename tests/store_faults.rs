//! A database locked by someone else at runtime: the app is not blocked and
//! nothing is lost; the writer retries until the lock goes.

use std::time::Duration;

use error_tracker::record_exception;
use error_tracker_suite::{flush, init_once, open, total_count};

#[derive(Debug)]
struct WhileLocked;

#[test]
fn a_locked_database_delays_writes_without_losing_them() {
    let path = init_once(|c| c.queue_capacity(16));
    record_exception!(WhileLocked);
    flush();

    let locker = rusqlite::Connection::open(&path).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    // More than the queue holds: the rest is folded into counters, not blocked on.
    for _ in 0..100 {
        record_exception!(WhileLocked);
    }
    assert!(!error_tracker::flush(Duration::from_millis(300)), "the writer cannot finish while the file is locked");
    locker.execute_batch("COMMIT").unwrap();
    drop(locker);

    flush();
    assert_eq!(total_count(&open(&path)), 101);
}
