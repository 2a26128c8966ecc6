//! The cost on the calling thread of `record_exception!` for an error raised
//! 20 frames deep, next to `backtrace::Backtrace::new()` (eager
//! symbolization, what other Rust SDKs do) and the bare recursion, all in
//! one run.
//!
//! ```sh
//! cargo bench --bench capture
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
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

fn capture(c: &mut Criterion) {
    // The writer drains into memory on the other core; a large queue keeps
    // the measured path the normal one (enqueue), not the overflow fold.
    let _guard =
        error_tracker::init(Config::default().store(MemoryStore::new(100)).queue_capacity(1 << 20)).expect("init");
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
    g.bench_function("stack_walk_only", |b| {
        b.iter(|| {
            at_depth(20, &mut || {
                let mut n = 0usize;
                backtrace::trace(|f| {
                    n += black_box(f.ip() as usize) & 1;
                    true
                });
                n
            })
        })
    });
    g.bench_function("backtrace_new", |b| b.iter(|| at_depth(20, &mut || backtrace::Backtrace::new())));
    g.finish();
    error_tracker::flush(Duration::from_secs(30));
}

criterion_group!(benches, capture);
criterion_main!(benches);
