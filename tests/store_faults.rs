//! A database locked by someone else, or made read-only, at runtime: the app
//! is not blocked and nothing is lost; the writer retries until it can write.

use std::time::Duration;

use std::path::Path;
use std::process::Command;

use error_tracker::{GroupQuery, PageRequest, StoreQuery, record_exception};
use error_tracker_suite::{flush, init_once, open, run_child, temp_db};

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

#[derive(Debug)]
struct Poisoned;
#[derive(Debug)]
struct Healthy;

/// A trigger in the real file refuses one kind of occurrence for good (a
/// permanent error): the writer sets those aside, counted, and stores the rest.
#[test]
fn a_batch_the_store_refuses_is_set_aside_and_the_rest_stored() {
    let _one = ONE_FAULT_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let path = init_once(|c| c.queue_capacity(16));
    flush();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER poison BEFORE INSERT ON occurrences WHEN NEW.exception_name LIKE '%Poisoned'
         BEGIN SELECT RAISE(ABORT, 'poisoned by the test'); END;",
    )
    .unwrap();
    let before = error_tracker::writer_stats().unwrap();
    record_exception!(Poisoned);
    for _ in 0..10 {
        record_exception!(Healthy);
    }
    let done = error_tracker::flush(Duration::from_secs(60));
    conn.execute_batch("DROP TRIGGER poison").unwrap();
    assert!(done, "the writer is not stuck on the refused occurrence");
    let after = error_tracker::writer_stats().unwrap();
    println!("write failures: {}, set aside: {}", after.write_failures - before.write_failures, after.set_aside);
    assert_eq!(after.set_aside - before.set_aside, 1, "the poisoned occurrence is set aside, counted");
    assert_eq!(count_of(&path, "Poisoned"), 0);
    assert_eq!(count_of(&path, "Healthy"), 10, "the rest of the batch is stored");
}

/// The body of a child process: `init` while another connection holds the
/// file's write lock (`CHILD_LOCK`: "migrated" or "new").
#[test]
#[ignore = "a child process of another test, which runs it"]
fn child_locked_start() {
    let Ok(db) = std::env::var("CHILD_DB") else { return };
    let kind = std::env::var("CHILD_LOCK").unwrap();
    let locker = rusqlite::Connection::open(&db).unwrap();
    if kind == "new" {
        locker.execute_batch("CREATE TABLE other (x)").unwrap();
    } else {
        drop(open(&db.clone().into()));
    }
    locker.execute_batch("BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS held (x);").unwrap();
    let guard = error_tracker::init(error_tracker::Config::default().database(&db).queue_capacity(16))
        .expect("init returns under a held lock");
    for _ in 0..50 {
        record_exception!(WhileLocked);
    }
    assert!(!error_tracker::flush(Duration::from_millis(300)), "nothing is stored while the lock is held");
    locker.execute_batch("COMMIT").unwrap();
    drop(locker);
    assert!(error_tracker::flush(Duration::from_secs(60)), "stored once the lock is gone");
    drop(guard);
    println!("COUNT {}", count_of(std::path::Path::new(&db), "WhileLocked"));
}

#[test]
fn init_under_another_process_lock_returns_and_the_writer_catches_up() {
    for kind in ["migrated", "new"] {
        let db = temp_db(&format!("locked-{kind}.sqlite"));
        let out = run_child("child_locked_start", &[("CHILD_DB", db.to_str().unwrap()), ("CHILD_LOCK", kind)]);
        assert!(out.contains("COUNT 50"), "{kind}: {out}");
    }
}

/// The body of a child process: record, then drop the guard, then copy the
/// `.sqlite` file alone while the tracker's connection is still open.
#[test]
#[ignore = "a child process of another test, which runs it"]
fn child_copy_after_guard() {
    let Ok(db) = std::env::var("CHILD_DB") else { return };
    let guard = error_tracker::init(error_tracker::Config::default().database(&db)).unwrap();
    for _ in 0..20 {
        record_exception!(WhileLocked);
    }
    drop(guard);
    let copy = format!("{db}.copy");
    std::fs::copy(&db, &copy).unwrap();
    let conn = rusqlite::Connection::open(&copy).unwrap();
    let n: i64 = conn.query_row("SELECT sum(count) FROM exceptions", [], |r| r.get(0)).unwrap();
    let wal = std::fs::metadata(format!("{db}-wal")).map(|m| m.len()).unwrap_or(0);
    println!("COPIED {n} WAL {wal}");
}

#[test]
fn the_file_alone_holds_the_data_after_the_guard_drops() {
    let db = temp_db("copied.sqlite");
    let out = run_child("child_copy_after_guard", &[("CHILD_DB", db.to_str().unwrap())]);
    assert!(out.contains("COPIED 20 WAL 0"), "{out}");
}

/// The body of a child process: a store capped at a few pages (SQLite's
/// `max_page_count`, as a full disk), a storm of distinct groups, then room.
#[test]
#[ignore = "a child process of another test, which runs it"]
fn child_full_disk() {
    let Ok(db) = std::env::var("CHILD_DB") else { return };
    let store = std::sync::Arc::new(error_tracker::SqliteStore::open(&db, 100).unwrap());
    let page_count = || -> u64 {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.query_row("PRAGMA page_count", [], |r| r.get::<_, i64>(0)).unwrap() as u64
    };
    let pages = page_count();
    assert_eq!(store.set_max_page_count(pages + 64).unwrap(), pages + 64);
    let config = error_tracker::Config::default()
        .store(store.clone())
        .queue_capacity(100_000)
        .fingerprint(|o| o.message.clone());
    let guard = error_tracker::init(config).unwrap();
    let n = 2_000;
    for i in 0..n {
        record_exception!(FullDisk(format!("{i:05} {}", "x".repeat(2_000))));
    }
    // Bounded wait for the writer to hit the cap and go on past it for a while.
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while error_tracker::writer_stats().unwrap().write_failures < 20 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!error_tracker::flush(Duration::from_millis(200)), "not all of it fits");
    let stored_while_full = error_tracker_suite::total_count(&*store);
    let used = page_count() - pages;
    store.set_max_page_count(1 << 30).unwrap();
    assert!(error_tracker::flush(Duration::from_secs(120)), "stored once there is room");
    let total = error_tracker_suite::total_count(&*store);
    let stats = error_tracker::writer_stats().unwrap();
    drop(guard);
    println!(
        "FULL {stored_while_full} PAGES {used} TOTAL {total} SET_ASIDE {} FAILURES {}",
        stats.set_aside, stats.write_failures
    );
}

#[derive(Debug)]
#[allow(dead_code)] // read through `Debug`, as the message
struct FullDisk(String);

#[test]
fn a_full_disk_stores_what_fits_and_then_the_rest_exactly() {
    let db = temp_db("full.sqlite");
    let out = run_child("child_full_disk", &[("CHILD_DB", db.to_str().unwrap())]);
    println!("{out}");
    let line = out.lines().find_map(|l| l.split_once("FULL ").map(|(_, r)| r.to_owned())).expect("child's figures");
    let figures: Vec<u64> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    let [full, pages, total, set_aside, _failures] = figures[..] else { panic!("{line}") };
    // Of the 64 pages left, what fits is written: not a batch retried whole.
    assert!(full > 0 && pages >= 32, "groups stored while full, pages of the 64 used: {line}");
    assert_eq!((total, set_aside), (2_000, 0), "{line}");
}

#[derive(Debug)]
#[allow(dead_code)] // read through `Debug`, as the message
struct Distinct(u32);

/// The body of a child process: the writer enforces a group cap of 10.
#[test]
#[ignore = "a child process of another test, which runs it"]
fn child_retention() {
    let Ok(db) = std::env::var("CHILD_DB") else { return };
    let limits = error_tracker::Retention { max_groups: Some(10), max_bytes: None, max_age: None };
    let config = error_tracker::Config::default().database(&db).retention(limits).fingerprint(|o| o.message.clone());
    let guard = error_tracker::init(config).unwrap();
    for i in 0..30 {
        record_exception!(Distinct(i));
    }
    flush();
    // The writer prunes every few seconds: a bounded wait for it.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while error_tracker::writer_stats().unwrap().pruned_groups < 20 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let stats = error_tracker::writer_stats().unwrap();
    drop(guard);
    let left = error_tracker_suite::total_count(&open(&db.into()));
    println!("PRUNED {} {} LEFT {left}", stats.pruned_groups, stats.pruned_occurrences);
}

#[test]
fn the_writer_enforces_the_retention_limits() {
    let db = temp_db("retention.sqlite");
    let out = run_child("child_retention", &[("CHILD_DB", db.to_str().unwrap())]);
    assert!(out.contains("PRUNED 20 20 LEFT 10"), "{out}");
}
