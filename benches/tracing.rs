//! The cost of the `tracing` layer, all in one run:
//! - one event: `info!(order_id = 17, user = "alice", "loading the order")`
//!   kept as a breadcrumb by error-tracker's layer, against the same event
//!   written by `tracing_subscriber::fmt` to `io::sink` (the bound: a
//!   quarter of it), and against no subscriber at all;
//! - an app that fails nothing: per request a `request{method path}` span,
//!   three events (one below `INFO`) and its work (a JSON round trip of an
//!   order of 8 lines, then of 64), logged by `fmt` to `io::sink`, with and
//!   without error-tracker's layer next to it (the bound: within 5%).
//!
//! Criterion shows each; the ratios at the end come from interleaved rounds
//! of both sides of each pair (the median of 21 rounds), so that a busy
//! machine slows both alike.
//!
//! ```sh
//! cargo bench --bench tracing --features tracing
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use error_tracker::MemoryStore;
use tracing::Dispatch;

#[path = "support/logging_app.rs"]
mod logging_app;

use logging_app::{bigger_request, event, fmt_and_layer, fmt_to_sink, layer_only, request};

/// Nanoseconds per call of `f` over `iters` calls under `dispatch`.
fn time(dispatch: &Dispatch, iters: u64, f: &dyn Fn(u64) -> u64) -> f64 {
    tracing::dispatcher::with_default(dispatch, || {
        let start = Instant::now();
        for i in 0..iters {
            black_box(f(black_box(i)));
        }
        start.elapsed().as_nanos() as f64 / iters as f64
    })
}

/// The median over 21 interleaved rounds of `ours / baseline`, and the
/// medians of each side (ns per call).
fn ratio(ours: &Dispatch, baseline: &Dispatch, iters: u64, f: &dyn Fn(u64) -> u64) -> (f64, f64, f64) {
    let (mut ratios, mut a, mut b) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..21 {
        // Alternate which side goes first.
        let (x, y) = if round % 2 == 0 {
            let x = time(ours, iters, f);
            (x, time(baseline, iters, f))
        } else {
            let y = time(baseline, iters, f);
            (time(ours, iters, f), y)
        };
        ratios.push(x / y);
        a.push(x);
        b.push(y);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(&mut ratios), median(&mut a), median(&mut b))
}

fn tracing_layer(c: &mut Criterion) {
    // The layer keeps breadcrumbs only once the tracker is initialized.
    let _guard = error_tracker::init(error_tracker::Config::default().store(MemoryStore::new(100))).expect("init");
    let (fmt, layer, both, none) = (fmt_to_sink(), layer_only(), fmt_and_layer(), Dispatch::none());

    let mut g = c.benchmark_group("event");
    g.measurement_time(Duration::from_secs(3));
    for (name, dispatch) in [("no subscriber", &none), ("fmt to io::sink", &fmt), ("breadcrumb", &layer)] {
        g.bench_function(name, |b| tracing::dispatcher::with_default(dispatch, || b.iter(event)));
    }
    g.finish();

    let mut g = c.benchmark_group("app without errors");
    g.measurement_time(Duration::from_secs(3));
    for (name, dispatch) in [("fmt to io::sink", &fmt), ("fmt to io::sink + error-tracker", &both)] {
        g.bench_function(name, |b| {
            tracing::dispatcher::with_default(dispatch, || {
                let mut i = 0;
                b.iter(|| {
                    i += 1;
                    request(i)
                })
            })
        });
    }
    g.finish();

    let (r, ours, base) = ratio(&layer, &fmt, 20_000, &|_| {
        event();
        0
    });
    println!("event: breadcrumb {ours:.0} ns, fmt to io::sink {base:.0} ns: ratio {r:.3} (bound 0.25)");
    let (r, ours, base) = ratio(&both, &fmt, 5_000, &request);
    println!(
        "app without errors, 8 lines: with the layer {ours:.0} ns, without {base:.0} ns: ratio {r:.3} (bound 1.05)"
    );
    let (r, ours, base) = ratio(&both, &fmt, 1_000, &bigger_request);
    println!(
        "app without errors, 64 lines: with the layer {ours:.0} ns, without {base:.0} ns: ratio {r:.3} (bound 1.05)"
    );
}

criterion_group!(benches, tracing_layer);
criterion_main!(benches);
