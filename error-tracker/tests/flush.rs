//! `flush` comes back only once what this thread recorded before it is in
//! the SQLite file, while other threads record, overflow the queue and
//! flush at the same time.
//!
//! The case that used to fail: an error handled inside a tracked function
//! that is still running is held open by the writer (outer frames may add
//! their snapshots), and is stored after the errors other threads record
//! later. A flush that waited for a number of occurrences stored saw that
//! number reached by those later ones, and returned before the held one
//! was written.
//!
//! Each group is one capture site, so under overflow repeats of a site are
//! folded into its count: what a thread checks after its flush is that its
//! group's stored count covers every record that was done, by any thread,
//! before the flush began.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use error_tracker::{Config, Guard, record_exception, track_exception};

mod common;
use common::{Failed, word};

const CHECKERS: usize = 6;
const ROUNDS: usize = 15;

fn db() -> PathBuf {
    static INIT: OnceLock<(tempfile::TempDir, PathBuf, Guard)> = OnceLock::new();
    INIT.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("flush.sqlite");
        let config = Config::default()
            .database(path.to_str().expect("utf-8 path"))
            // Small: the noise overflows it, so some records are folded and
            // some flushes wait for room in the queue.
            .queue_capacity(8)
            // Every occurrence stays stored, so each thread finds its own.
            .occurrences_per_group(1_000_000);
        let guard = error_tracker::init(config).expect("init");
        (dir, path, guard)
    })
    .1
    .clone()
}

/// The stored count of the group of the error type `E` (each of the test's
/// types is recorded at one site: one group).
fn stored<E>(path: &Path) -> i64 {
    let conn = rusqlite::Connection::open(path).expect("open the database");
    conn.busy_timeout(Duration::from_secs(60)).expect("busy timeout");
    conn.query_row(
        "SELECT coalesce(sum(count), 0) FROM exceptions WHERE exception_name = ?1",
        [std::any::type_name::<E>()],
        |r| r.get(0),
    )
    .expect("count occurrences")
}

/// Records done (returned to the caller) so far, per group.
static OPEN_DONE: AtomicI64 = AtomicI64::new(0);
static PLAIN_DONE: AtomicI64 = AtomicI64::new(0);

fn flush() {
    assert!(error_tracker::flush(Duration::from_secs(120)), "the writer did not flush in time");
}

#[derive(Debug)]
struct Noise;

/// Recorded with `record_exception!` (the other is recorded by a tracked fn).
#[derive(Debug)]
struct Plain(String);

impl std::fmt::Display for Plain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Plain {}

#[track_exception]
fn fails(tag: &str) -> Result<(), Failed> {
    Err(Failed(tag.to_owned()))
}

/// Handles an error of an inner tracked frame and flushes while still
/// running: the occurrence is open when `flush` is called. Returns the
/// records done before the flush and the count stored after it.
#[track_exception]
fn handles_then_flushes(tag: &str) -> Result<(i64, i64), Failed> {
    let handled = fails(tag).is_err();
    assert!(handled);
    let done = OPEN_DONE.fetch_add(1, Ordering::SeqCst) + 1;
    flush();
    Ok((done, stored::<Failed>(&db())))
}

/// Records errors in a loop until `stop`, so that the writer always has
/// later occurrences to store and the queue is often full.
fn noise(stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..5 {
            record_exception!(Noise);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn each_thread_finds_what_it_recorded_right_after_its_flush() {
    db();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let noisy: Vec<_> = (0..2).map(|_| s.spawn(|| noise(&stop))).collect();
        let checkers: Vec<_> = (0..CHECKERS)
            .map(|thread| {
                s.spawn(move || {
                    let mut missing = Vec::new();
                    for round in 0..ROUNDS {
                        // Held open by the writer: handled in a running tracked frame.
                        let open = format!("open-marker {}", word(thread * ROUNDS + round));
                        let (done, found) = handles_then_flushes(&open).expect("Ok");
                        if found < done {
                            missing.push(("open", done, found));
                        }
                        // Queued, or folded when the queue is full.
                        let plain = format!("plain-marker {}", word(thread * ROUNDS + round));
                        record_exception!(Plain(plain));
                        let done = PLAIN_DONE.fetch_add(1, Ordering::SeqCst) + 1;
                        flush();
                        let found = stored::<Plain>(&db());
                        if found < done {
                            missing.push(("plain", done, found));
                        }
                    }
                    missing
                })
            })
            .collect();
        let missing: Vec<_> = checkers.into_iter().flat_map(|c| c.join().expect("a checker panicked")).collect();
        stop.store(true, Ordering::Relaxed);
        for n in noisy {
            n.join().expect("a noise thread panicked");
        }
        assert!(missing.is_empty(), "not counted right after the flush (group, done, stored): {missing:#?}");
    });
}
