//! The queue overflows while the SQLite file is locked by another
//! connection (the writer stalls), and every occurrence is still counted.
//!
//! 30,000 distinct stacks, recorded once each from one `record_exception!`
//! call: the call decides the group (not the stack), the overflow counters
//! fold them by that identity, and `sum(count)` is exact. (What happens past
//! the counters' cap, reached only by occurrences without a capture site,
//! is a unit test of `tracker::Overflow`.)

use std::path::PathBuf;
use std::time::Duration;

use error_tracker::{Config, record_exception};

const STACKS: u32 = 30_000;
/// Deep enough for `STACKS` distinct paths.
const LEVELS: u32 = 15;

#[derive(Debug)]
struct StackError;

/// Records one error at the end of a path of `depth` calls, each through
/// [`left`] or [`right`] as the bits of `path` say: a distinct stack for
/// each path.
#[inline(never)]
fn descend(depth: u32, path: u32) {
    if depth == 0 {
        record_exception!(StackError);
    } else if (path >> (depth - 1)) & 1 == 1 {
        right(depth - 1, path);
    } else {
        left(depth - 1, path);
    }
    // Not a tail call: every frame stays on the stack.
    std::hint::black_box(depth);
}

#[inline(never)]
fn left(depth: u32, path: u32) {
    descend(depth, path);
    std::hint::black_box(depth);
}

#[inline(never)]
fn right(depth: u32, path: u32) {
    descend(depth, path);
    std::hint::black_box(depth);
}

#[test]
fn distinct_stacks_recorded_while_the_database_is_locked_are_all_counted() {
    assert!(2u32.pow(LEVELS) >= STACKS);
    let dir = tempfile::tempdir().expect("temp dir");
    let path: PathBuf = dir.path().join("overflow.sqlite");
    // A small queue: almost everything overflows into the counters.
    let config = Config::default().database(path.to_str().expect("utf-8 path")).queue_capacity(16);
    let _guard = error_tracker::init(config).expect("init");
    assert!(error_tracker::flush(Duration::from_secs(60)), "an idle writer is flushed");

    let locker = rusqlite::Connection::open(&path).expect("open a second connection");
    locker.execute_batch("BEGIN EXCLUSIVE").expect("lock the database");
    for p in 0..STACKS {
        descend(LEVELS, p);
    }
    assert!(!error_tracker::flush(Duration::from_millis(300)), "the writer cannot store while the file is locked");
    locker.execute_batch("COMMIT").expect("release the lock");
    drop(locker);
    assert!(error_tracker::flush(Duration::from_secs(600)), "the writer did not flush in time");

    let db = rusqlite::Connection::open(&path).expect("open the database");
    let total: i64 = db.query_row("SELECT sum(count) FROM exceptions", [], |r| r.get(0)).expect("sum(count)");
    assert_eq!(total, i64::from(STACKS), "every occurrence counted, once");
    let groups: i64 = db.query_row("SELECT count(*) FROM exceptions", [], |r| r.get(0)).expect("count groups");
    assert_eq!(groups, 1, "one call site, one group, whatever the stack");
}
