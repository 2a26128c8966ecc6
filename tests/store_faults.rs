//! A database locked by someone else, or made read-only, at runtime: the app
//! is not blocked and nothing is lost; the writer retries until it can write.

use std::time::Duration;

use std::path::Path;
use std::process::Command;

use error_tracker::{GroupQuery, PageRequest, StoreQuery, record_exception};
use error_tracker_suite::{flush, init_once, open};

/// The two faults are injected one at a time.
static ONE_FAULT_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn count_of(path: &Path, exception: &str) -> u64 {
    let q = GroupQuery { search: Some(exception.into()), page: PageRequest::first(10), ..Default::default() };
    open(&path.to_path_buf()).list_groups(&q).unwrap().items.iter().map(|g| g.count).sum()
}

#[derive(Debug)]
struct WhileLocked;

#[test]
fn a_locked_database_delays_writes_without_losing_them() {
    let _one = ONE_FAULT_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
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
    assert_eq!(count_of(&path, "WhileLocked"), 101);
}

#[derive(Debug)]
struct WhileReadOnly;

/// Sets or clears the immutable attribute, which even root cannot write through.
fn immutable(paths: &[&Path], on: bool) -> bool {
    let flag = if on { "+i" } else { "-i" };
    Command::new("chattr").arg(flag).args(paths).status().is_ok_and(|s| s.success())
}

#[test]
fn a_read_only_database_delays_writes_without_losing_them() {
    let _one = ONE_FAULT_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let path = init_once(|c| c.queue_capacity(16));
    record_exception!(WhileReadOnly);
    flush();
    let wal = path.with_extension("sqlite-wal");
    let files = [path.as_path(), wal.as_path()];
    if !immutable(&files, true) {
        println!("skipped: chattr +i is not available on this file system");
        return;
    }
    for _ in 0..50 {
        record_exception!(WhileReadOnly);
    }
    let stuck = !error_tracker::flush(Duration::from_millis(500));
    assert!(immutable(&files, false), "chattr -i");
    assert!(stuck, "the writer cannot finish while the files are read-only");
    flush();
    assert_eq!(count_of(&path, "WhileReadOnly"), 51);
}
