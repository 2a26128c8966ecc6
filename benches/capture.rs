//! The cost on the calling thread of `record_exception!` for an error raised
//! 20 frames deep, next to `backtrace::Backtrace::new()` (eager
//! symbolization, what other Rust SDKs do) and the bare recursion, all in
//! one run.
//!
//! Then, in a second process of this bench (the tracker is one per
//! process), an error storm: the same `record_exception!` call, and the
//! same failing tracked fn, repeated past their sites' detail budget, so
//! that they are only counted, next to a bare 20-frame stack walk
//! (`backtrace::trace`) in that same process.
//!
//! ```sh
//! cargo bench --bench capture
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use error_tracker::{Config, MemoryStore, record_exception};

#[derive(Debug)]
struct BenchError {
    code: u32,
}

impl std::fmt::Display for BenchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "request failed with code {}", self.code)
    }
}
impl std::error::Error for BenchError {}

/// Calls `f` at the bottom of `depth` frames.
#[inline(never)]
fn at_depth<R>(depth: u32, f: &mut dyn FnMut() -> R) -> R {
    if depth == 0 { f() } else { black_box(at_depth(black_box(depth - 1), f)) }
}

/// Set in the second process, which measures the storm.
const STORM: &str = "CAPTURE_BENCH_STORM";

/// 20 frames of `backtrace::trace`, unresolved.
fn stack_walk() -> usize {
    at_depth(20, &mut || {
        let mut n = 0usize;
        backtrace::trace(|f| {
            n += black_box(f.ip() as usize) & 1;
            true
        });
        n
    })
}

/// The tracked fn of the storm: it fails every time.
#[error_tracker::track_exception]
fn parse_code(text: &str) -> Result<u32, std::num::ParseIntError> {
    text.parse::<u32>()
}

fn capture(c: &mut Criterion) {
    // The writer drains into memory on the other core; a large queue keeps
    // the measured path the normal one (enqueue), not the overflow fold.
    // Every occurrence is captured in detail: this is what the first ones
    // of every group cost.
    let config = Config::default().store(MemoryStore::new(100)).queue_capacity(1 << 20).detail_budget(u32::MAX);
    let _guard = error_tracker::init(config).expect("init");
    let mut g = c.benchmark_group("capture_20_frames_deep");
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("bare_recursion", |b| b.iter(|| at_depth(20, &mut || black_box(BenchError { code: 7 }))));
    g.bench_function("record_exception", |b| {
        b.iter(|| at_depth(20, &mut || record_exception!(BenchError { code: black_box(7) })))
    });
    g.bench_function("record_exception_with_extras", |b| {
        b.iter(|| {
            at_depth(
                20,
                &mut || record_exception!(BenchError { code: black_box(7) }, "user_id" => 42, "password" => "hunter2"),
            )
        })
    });
    g.bench_function("stack_walk_only", |b| b.iter(stack_walk));
    g.bench_function("backtrace_new", |b| b.iter(|| at_depth(20, &mut || backtrace::Backtrace::new())));
    g.finish();
    error_tracker::flush(Duration::from_secs(30));
}

/// The storm: every repeat past the first of the second is only counted.
fn storm(c: &mut Criterion) {
    let config = Config::default().store(MemoryStore::new(100)).queue_capacity(1 << 20);
    let _guard = error_tracker::init(config).expect("init");
    let record = || at_depth(20, &mut || record_exception!(BenchError { code: black_box(7) }));
    let record_with_extras = || {
        at_depth(
            20,
            &mut || record_exception!(BenchError { code: black_box(7) }, "user_id" => 42, "password" => "hunter2"),
        )
    };
    let tracked = || at_depth(20, &mut || parse_code(black_box("12,50")).is_err());
    // Once each, stored: the writer knows their groups from then on.
    record();
    record_with_extras();
    tracked();
    error_tracker::flush(Duration::from_secs(30));

    let mut g = c.benchmark_group("capture_storm_20_frames_deep");
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("bare_recursion", |b| b.iter(|| at_depth(20, &mut || black_box(BenchError { code: 7 }))));
    g.bench_function("stack_walk_only", |b| b.iter(stack_walk));
    g.bench_function("record_exception_repeated", |b| b.iter(record));
    g.bench_function("record_exception_with_extras_repeated", |b| b.iter(record_with_extras));
    g.bench_function("tracked_fn_failing_repeated", |b| b.iter(tracked));
    g.finish();
    error_tracker::flush(Duration::from_secs(30));
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    if std::env::var_os(STORM).is_some() {
        storm(&mut c);
    } else {
        capture(&mut c);
        // The storm in a process of its own, with the same arguments.
        let status = std::process::Command::new(std::env::current_exe().expect("this bench's path"))
            .args(std::env::args_os().skip(1))
            .env(STORM, "1")
            .status()
            .expect("run the storm half");
        assert!(status.success(), "the storm half failed: {status}");
    }
    c.final_summary();
}
