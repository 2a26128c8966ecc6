//! An error storm: 1,000,000 occurrences in about 10 seconds from 4 threads.
//! Prints the peak resident memory before and after, and checks that the
//! stored counts add up to exactly what was recorded.
//!
//! ```sh
//! cargo run --release --example storm
//! ```

use std::time::{Duration, Instant};

use error_tracker::{Config, GroupQuery, PageRequest, record_exception};

const TOTAL: u64 = 1_000_000;
const THREADS: u64 = 4;
const STORM: Duration = Duration::from_secs(10);

#[derive(Debug)]
struct StormError {
    kind: u64,
}

impl std::fmt::Display for StormError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "upstream {} timed out", self.kind)
    }
}
impl std::error::Error for StormError {}

/// Peak resident set size of this process, in KiB (Linux).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

#[inline(never)]
fn fail(kind: u64) {
    // Ten call sites' worth of groups: the same stack, ten types of failure.
    match kind % 10 {
        0 => {
            record_exception!(StormError { kind }, "request_id" => kind);
        }
        _ => {
            record_exception!(std::io::Error::other(format!("disk {kind} full")));
        }
    }
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("storm.sqlite");
    let guard = error_tracker::init(Config::default().database(path.to_str().unwrap())).expect("init");
    let before = peak_rss_kib();
    let start = Instant::now();
    let per_thread = TOTAL / THREADS;
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    fail(t * per_thread + i);
                    // Pace the storm over STORM.
                    let due = STORM.mul_f64((i + 1) as f64 / per_thread as f64);
                    if let Some(wait) = due.checked_sub(start.elapsed())
                        && wait > Duration::from_millis(1)
                    {
                        std::thread::sleep(wait);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("storm thread");
    }
    let recorded_in = start.elapsed();
    let flushed = error_tracker::flush(Duration::from_secs(120));
    let stored_in = start.elapsed();
    let peak = peak_rss_kib();
    let store = error_tracker::store().expect("initialized");
    let groups = store.list_groups(&GroupQuery { page: PageRequest::first(1000), ..Default::default() }).expect("list");
    let counted: u64 = groups.items.iter().map(|g| g.count).sum();
    println!(
        "recorded {TOTAL} occurrences in {recorded_in:.2?}; all stored after {stored_in:.2?} (flushed: {flushed})"
    );
    println!("groups: {}, sum of count: {counted}", groups.total);
    println!("peak RSS: {} MiB before the storm, {} MiB at the end", before / 1024, peak / 1024);
    drop(guard);
    assert_eq!(counted, TOTAL, "every occurrence is counted");
}
