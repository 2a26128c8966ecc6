//! The axum layer's own cost per request in instructions, for callgrind
//! (stable on a loaded machine, unlike the wall-clock `benches/web.rs`):
//! `N` requests driven in-process through the router with
//! `tower::ServiceExt::oneshot`, with no socket or HTTP parsing, so that
//! the difference between modes is the layer and the tracked fn.
//!
//! ```sh
//! cargo build --profile bench --features axum --example web_layer
//! P=target/release/examples/web_layer
//! for mode in bare-fail layer-fail bare-ok layer-ok; do for n in 20000 40000; do
//!   valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.$mode.$n $P $mode $n >/dev/null 2>&1
//!   callgrind_annotate --inclusive=yes /tmp/cg.$mode.$n | grep 'web_layer::main '
//! done; done
//! ```
//!
//! Modes: `bare-*` is the app with no error-tracker at all (no layer, the fn
//! without `#[track_exception]`); `layer-*` is the app with the layer and
//! the tracked fn; `*-fail` requests fail (a 500 through `?` from the fn),
//! `*-ok` succeed. The difference of two runs divided by the extra requests
//! is the cost per request; the difference of the modes is the tracker's.
//!
//! `layer-panic`: the handler panics on every request (the layer answers
//! 500); `layer-panic-detail`: the same with every panic captured in detail
//! (`detail_budget(u32::MAX)`), what each cost before panics had a budget.

use std::hint::black_box;
use std::net::SocketAddr;
use std::num::ParseIntError;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, StatusCode, Uri, header};
use axum::routing::get;
use error_tracker::integrations::axum::ErrorTrackerLayer;
use tower::ServiceExt;

#[error_tracker::track_exception]
fn parse_total(text: &str) -> Result<u64, ParseIntError> {
    text.parse::<u64>()
}

fn parse_total_untracked(text: &str) -> Result<u64, ParseIntError> {
    text.parse::<u64>()
}

fn respond(parsed: Result<u64, ParseIntError>) -> Result<String, StatusCode> {
    let n = parsed.map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok(n.to_string())
}

/// The request head of `benches/web.rs`: the same URI and headers.
const HEAD: &[u8] = b"/orders/17/total?currency=EUR/orders/17/count?currency=EUR\
127.0.0.1web-bench/1.0application/jsonenBearer bench-token-123456sessionid=s-123; theme=dark";

/// The request, built as hyper builds it: the URI and the header values
/// are slices of the connection's read buffer (`shared`), so cloning one
/// is a reference count, not a copy.
fn request(shared: &Bytes, failing: bool, client: SocketAddr) -> Request<Body> {
    let mut at = 0;
    let mut next = |len: usize| {
        at += len;
        shared.slice(at - len..at)
    };
    let (total, count) = (next(29), next(29));
    let uri = Uri::from_maybe_shared(if failing { total } else { count }).expect("uri");
    let mut req = Request::get(uri).body(Body::empty()).expect("request");
    let headers = req.headers_mut();
    for (name, len) in [
        (header::HOST, 9),
        (header::USER_AGENT, 13),
        (header::ACCEPT, 16),
        (header::ACCEPT_LANGUAGE, 2),
        (header::AUTHORIZATION, 25),
        (header::COOKIE, 27),
    ] {
        headers.append(name, HeaderValue::from_maybe_shared(next(len)).expect("header value"));
    }
    // What `into_make_service_with_connect_info` adds.
    req.extensions_mut().insert(ConnectInfo(client));
    req
}

fn main() {
    let mode = std::env::args().nth(1).expect("mode: bare-fail, layer-fail, bare-ok or layer-ok");
    let n: u64 = std::env::args().nth(2).map_or(10_000, |n| n.parse().expect("N"));
    // One occurrence per site and second in detail, as `tracked_calls`: the
    // storm's figure is the repeats' cost.
    let budget = if mode == "layer-panic-detail" { u32::MAX } else { 1 };
    let config = error_tracker::Config::default().store(error_tracker::MemoryStore::new(100)).detail_budget(budget);
    if mode.starts_with("layer-panic") {
        // The handler's panics are not printed (the tracker's hook chains to this one).
        std::panic::set_hook(Box::new(|_| {}));
    }
    let _guard = error_tracker::init(config).expect("init");
    let tracked = mode.starts_with("layer");
    let (failing, status) = match mode.split_once('-').map(|(_, w)| w) {
        Some("fail") => (true, StatusCode::INTERNAL_SERVER_ERROR),
        Some("ok") => (false, StatusCode::OK),
        Some("panic" | "panic-detail") if tracked => (true, StatusCode::INTERNAL_SERVER_ERROR),
        _ => panic!("unknown mode {mode}"),
    };
    let panics = mode.starts_with("layer-panic");
    let parse = move |text: &str| if tracked { parse_total(text) } else { parse_total_untracked(text) };
    let total = move || async move {
        if panics {
            panic!("the order service crashed");
        }
        respond(parse(black_box("12,50")))
    };
    let count = move || async move { respond(parse(black_box("1250"))) };
    let mut app = Router::new().route("/orders/{id}/total", get(total)).route("/orders/{id}/count", get(count));
    if tracked {
        app = app.layer(ErrorTrackerLayer::new());
    }
    // As serving does (`into_make_service*`): the handlers become routes
    // once, not on every request.
    let app = app.with_state(());
    let client: SocketAddr = "127.0.0.1:50000".parse().expect("address");
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    // Shared, as a connection's buffer is once hyper has split a request off it.
    let shared = Bytes::from(HEAD.to_vec());
    let _promoted = shared.slice(..);
    rt.block_on(async {
        for _ in 0..n {
            let res = app.clone().oneshot(request(&shared, failing, client)).await.expect("infallible");
            assert_eq!(res.status(), status);
        }
    });
    assert!(error_tracker::flush(std::time::Duration::from_secs(30)));
    println!("{mode}: {n} requests");
}
