//! The cost of `#[track_exception]`, all in one run:
//! - happy path: `fn(&str, u64, &Config)` with 2 plain locals, untracked vs
//!   tracked vs tracing's `#[instrument]` with a `tracing_subscriber::fmt`
//!   subscriber writing to `io::sink`;
//! - error path: an error raised 3 tracked frames deep, on the calling
//!   thread, next to the same 3 frames untracked with one `record_exception!`;
//! - owned values: `fn(name: String, rows: &[Row])` with `let copy =
//!   rows.to_vec()`, at 100 and 10,000 rows, untracked vs tracked: the
//!   tracking cost must not grow with the values' size.
//!
//! ```sh
//! cargo bench --bench macros
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use error_tracker::{MemoryStore, record_exception, track_exception};
use error_tracker_suite::tracked_fns::{Config, Failed, owned_tracked, owned_untracked, rows, tracked, untracked};

#[inline(never)]
#[tracing::instrument]
fn instrumented(name: &str, n: u64, config: &Config) -> Result<u64, Failed> {
    let doubled = n.wrapping_mul(2);
    let sum = doubled.wrapping_add(name.len() as u64 + u64::from(config.port));
    if sum == u64::MAX { Err(Failed(sum)) } else { Ok(sum) }
}

#[inline(never)]
#[track_exception]
fn deep3(n: u64) -> Result<u64, Failed> {
    let code = n + 3;
    Err(Failed(black_box(code)))
}

#[inline(never)]
#[track_exception]
fn deep2(n: u64) -> Result<u64, Failed> {
    let next = n + 2;
    deep3(next)
}

#[inline(never)]
#[track_exception]
fn deep1(n: u64) -> Result<u64, Failed> {
    let next = n + 1;
    deep2(next)
}

#[inline(never)]
fn plain3(n: u64) -> Result<u64, Failed> {
    Err(Failed(black_box(n + 3)))
}

#[inline(never)]
fn plain2(n: u64) -> Result<u64, Failed> {
    plain3(n + 2)
}

#[inline(never)]
fn plain1(n: u64) -> Result<u64, Failed> {
    match plain2(n + 1) {
        Err(e) => {
            record_exception!(&e, "n" => n);
            Err(e)
        }
        ok => ok,
    }
}

fn macros(c: &mut Criterion) {
    // The writer drains into memory on the other core; a large queue keeps
    // the measured error path the normal one (enqueue), not the overflow fold.
    let _guard =
        error_tracker::init(error_tracker::Config::default().store(MemoryStore::new(100)).queue_capacity(1 << 20))
            .expect("init");
    let subscriber =
        tracing_subscriber::fmt().with_writer(std::io::sink).with_max_level(tracing::Level::TRACE).finish();
    tracing::subscriber::set_global_default(subscriber).expect("set the tracing subscriber");
    let config = Config { host: "db.local".to_owned(), port: 5432 };

    let mut g = c.benchmark_group("happy_path");
    g.measurement_time(Duration::from_secs(4));
    g.bench_function("untracked", |b| b.iter(|| untracked(black_box("alice"), black_box(7), black_box(&config))));
    g.bench_function("track_exception", |b| b.iter(|| tracked(black_box("alice"), black_box(7), black_box(&config))));
    g.bench_function("tracing_instrument", |b| {
        b.iter(|| instrumented(black_box("alice"), black_box(7), black_box(&config)))
    });
    g.finish();

    let mut g = c.benchmark_group("error_3_frames_deep");
    g.measurement_time(Duration::from_secs(4));
    g.bench_function("record_exception_untracked", |b| b.iter(|| plain1(black_box(1))));
    g.bench_function("track_exception", |b| b.iter(|| deep1(black_box(1))));
    g.finish();

    for n in [100, 10_000] {
        let rows = rows(n);
        let mut g = c.benchmark_group(format!("owned_values_{n}_rows"));
        g.measurement_time(Duration::from_secs(4));
        g.bench_function("untracked", |b| b.iter(|| owned_untracked(black_box("alice".to_owned()), black_box(&rows))));
        g.bench_function("track_exception", |b| {
            b.iter(|| owned_tracked(black_box("alice".to_owned()), black_box(&rows)))
        });
        g.finish();
    }
}

criterion_group!(benches, macros);
criterion_main!(benches);
