//! The cost of error-tracker's `tracing` layer in an app that fails
//! nothing, in instructions, for callgrind (stable on a noisy machine,
//! unlike wall time): the requests of `benches/tracing.rs`, `N` of them,
//! logged through `fmt` to `io::sink` with or without the layer.
//!
//! ```sh
//! cargo build --release --example tracing_requests --features tracing
//! for mode in fmt fmt+layer; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/tracing_requests $mode 20000 2>&1 | grep Collected
//! done
//! ```
//!
//! Arguments: the mode (`fmt`, `fmt+layer`, or `event-fmt` / `event-layer`
//! for the single event alone), `N`, and `64` for the bigger request (64
//! order lines instead of 8). The difference of two runs
//! divided by `N` is the layer's cost per request. The subscriber is the
//! global default, as in an app.

use std::hint::black_box;

#[path = "../benches/support/logging_app.rs"]
mod logging_app;

fn main() {
    let _g = error_tracker::init(error_tracker::Config::default().store(error_tracker::MemoryStore::new(100)))
        .expect("init");
    let mode = std::env::args().nth(1).expect("a mode: fmt, fmt+layer, event-fmt, event-layer");
    let n: u64 = std::env::args().nth(2).expect("N").parse().expect("N, a number");
    let bigger = std::env::args().nth(3).as_deref() == Some("64");
    let dispatch = match mode.as_str() {
        "fmt" | "event-fmt" => logging_app::fmt_to_sink(),
        "fmt+layer" => logging_app::fmt_and_layer(),
        "event-layer" => logging_app::layer_only(),
        other => panic!("unknown mode {other}"),
    };
    tracing::dispatcher::set_global_default(dispatch).expect("the only subscriber");
    let mut acc = 0u64;
    for i in 0..n {
        acc = acc.wrapping_add(if mode.starts_with("event") {
            logging_app::event();
            0
        } else if bigger {
            logging_app::bigger_request(black_box(i))
        } else {
            logging_app::request(black_box(i))
        });
    }
    black_box(acc);
}
