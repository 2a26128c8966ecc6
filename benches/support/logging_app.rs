//! The app of `benches/tracing.rs` and `examples/tracing_requests.rs`: the
//! subscribers it logs through and one request of it, which fails nothing.

use std::hint::black_box;

use serde::{Deserialize, Serialize};
use tracing::Dispatch;
use tracing_subscriber::prelude::*;

/// The app with no error-tracker: `fmt` at `INFO` to `io::sink`.
pub fn fmt_to_sink() -> Dispatch {
    Dispatch::new(
        tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::sink)
                .with_filter(tracing::level_filters::LevelFilter::INFO),
        ),
    )
}

/// error-tracker's layer alone.
pub fn layer_only() -> Dispatch {
    Dispatch::new(tracing_subscriber::registry().with(error_tracker::integrations::tracing::layer()))
}

/// The app with error-tracker: `fmt` as above, and error-tracker's layer.
pub fn fmt_and_layer() -> Dispatch {
    Dispatch::new(
        tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::sink)
                    .with_filter(tracing::level_filters::LevelFilter::INFO),
            )
            .with(error_tracker::integrations::tracing::layer()),
    )
}

/// One event, kept as a breadcrumb at `INFO`.
#[inline(never)]
pub fn event() {
    tracing::info!(order_id = 17, user = "alice", "loading the order");
}

#[derive(Serialize, Deserialize)]
struct Line {
    sku: String,
    quantity: u32,
    cents: u64,
}

#[derive(Serialize, Deserialize)]
struct Order {
    id: u64,
    customer: String,
    lines: Vec<Line>,
}

/// One request of an app that fails nothing, that logs a lot for what it
/// does (8 order lines: logging through `fmt` is about a third of it).
#[inline(never)]
pub fn request(i: u64) -> u64 {
    request_with(i, 8)
}

/// The same request with 64 order lines: logging is about a tenth of it.
#[inline(never)]
pub fn bigger_request(i: u64) -> u64 {
    request_with(i, 64)
}

fn request_with(i: u64, lines: u64) -> u64 {
    let span = tracing::info_span!("request", method = "GET", path = "/orders/17");
    let _entered = span.enter();
    tracing::info!(order_id = i, "loading the order");
    let order = Order {
        id: i,
        customer: format!("customer-{i}"),
        lines: (0..lines)
            .map(|n| Line { sku: format!("SKU-{n:04}"), quantity: n as u32 + 1, cents: 1999 * n })
            .collect(),
    };
    let text = serde_json::to_string(&order).expect("serialize");
    let back: Order = serde_json::from_str(black_box(&text)).expect("parse");
    tracing::debug!(bytes = text.len(), "serialized");
    let total: u64 = back.lines.iter().map(|l| l.cents * u64::from(l.quantity)).sum();
    tracing::info!(total, lines = back.lines.len(), "order loaded");
    total
}
