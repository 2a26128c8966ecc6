//! Requests/s of an app where every request fails (a 500 through `?` from a
//! `#[track_exception]` fn), served to 64 keep-alive connections on
//! loopback, next to the same app with no error-tracker at all (no layer or
//! middleware, the same fn without the attribute), in the same run: axum,
//! then actix-web. Then the same where every request succeeds (the tracked
//! fn returns `Ok`): what the tracker costs when nothing fails.
//!
//! ```sh
//! cargo bench --bench web --features axum,actix
//! ```
//!
//! Not criterion: this measures throughput under concurrency, not the time
//! of one call. The two variants run in alternating rounds, with the
//! writer flushed between rounds, so that drift from other processes on the
//! machine falls on both alike. `WEB_BENCH_ROUNDS` and `WEB_BENCH_SECONDS`
//! (per round) change the length. The load generator is the tokio client
//! below, on its own thread.

use std::net::SocketAddr;
use std::num::ParseIntError;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CONNECTIONS: usize = 64;
const FAILING: Workload = Workload {
    name: "every request fails",
    request: b"GET /orders/17/total?currency=EUR HTTP/1.1\r\nHost: 127.0.0.1\r\n\
User-Agent: web-bench/1.0\r\nAccept: application/json\r\nAccept-Language: en\r\n\
Authorization: Bearer bench-token-123456\r\nCookie: sessionid=s-123; theme=dark\r\n\r\n",
    status: b"HTTP/1.1 500",
};
/// The same request to a route whose tracked fn succeeds: what the layer
/// costs when nothing fails.
const SUCCEEDING: Workload = Workload {
    name: "every request succeeds",
    request: b"GET /orders/17/count?currency=EUR HTTP/1.1\r\nHost: 127.0.0.1\r\n\
User-Agent: web-bench/1.0\r\nAccept: application/json\r\nAccept-Language: en\r\n\
Authorization: Bearer bench-token-123456\r\nCookie: sessionid=s-123; theme=dark\r\n\r\n",
    status: b"HTTP/1.1 200",
};

/// What the load generator sends, and the status every response must have.
struct Workload {
    name: &'static str,
    request: &'static [u8],
    status: &'static [u8],
}

/// The tracked function behind every request: it fails, and is recorded.
#[error_tracker::track_exception]
fn parse_total(text: &str) -> Result<u64, ParseIntError> {
    text.parse::<u64>()
}

/// The same function in the app without error-tracker.
fn parse_total_untracked(text: &str) -> Result<u64, ParseIntError> {
    text.parse::<u64>()
}

/// The function the app calls: tracked with the tracker, else not.
fn parse(tracked: bool, text: &str) -> Result<u64, ParseIntError> {
    if tracked { parse_total(text) } else { parse_total_untracked(text) }
}

mod axum_app {
    use axum::Router;
    use axum::http::StatusCode;
    use axum::routing::get;
    use error_tracker::integrations::axum::ErrorTrackerLayer;

    fn respond(parsed: Result<u64, std::num::ParseIntError>) -> Result<String, StatusCode> {
        let n = parsed.map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
        Ok(n.to_string())
    }

    /// The app; `tracked`: with the layer and the tracked fn, else without error-tracker.
    pub fn start(tracked: bool) -> std::net::SocketAddr {
        let total = move || async move { respond(super::parse(tracked, "12,50")) };
        let count = move || async move { respond(super::parse(tracked, "1250")) };
        let mut app = Router::new().route("/orders/{id}/total", get(total)).route("/orders/{id}/count", get(count));
        if tracked {
            app = app.layer(ErrorTrackerLayer::new());
        }
        error_tracker_suite::serve_on_loopback(2, |listener| async {
            let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
            axum::serve(listener, app).await.expect("serve");
        })
    }
}

mod actix_app {
    use actix_web::{App, HttpResponse, HttpServer, middleware::Condition, web};
    use error_tracker::integrations::actix::ErrorTrackerMiddleware;

    fn respond(parsed: Result<u64, std::num::ParseIntError>) -> HttpResponse {
        match parsed {
            Ok(t) => HttpResponse::Ok().body(t.to_string()),
            Err(_) => HttpResponse::InternalServerError().body("500 Internal Server Error\n"),
        }
    }

    /// The app; `tracked`: with the middleware and the tracked fn, else without error-tracker.
    pub fn start(tracked: bool) -> std::net::SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                HttpServer::new(move || {
                    let total = move || async move { respond(super::parse(tracked, "12,50")) };
                    let count = move || async move { respond(super::parse(tracked, "1250")) };
                    App::new()
                        .wrap(Condition::new(tracked, ErrorTrackerMiddleware::new()))
                        .route("/orders/{id}/total", web::get().to(total))
                        .route("/orders/{id}/count", web::get().to(count))
                })
                .workers(2)
                .disable_signals()
                .listen(listener)
                .expect("listen")
                .run()
                .await
                .expect("serve");
            });
        });
        addr
    }
}

/// One keep-alive connection sending requests one after another until `stop`.
async fn connection(addr: SocketAddr, work: &'static Workload, stop: Arc<AtomicBool>, done: Arc<AtomicU64>) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.set_nodelay(true).expect("nodelay");
    let mut buf = vec![0u8; 8192];
    while !stop.load(Ordering::Relaxed) {
        s.write_all(work.request).await.expect("send");
        let mut filled = 0;
        loop {
            let n = s.read(&mut buf[filled..]).await.expect("read");
            assert!(n > 0, "the server closed the connection");
            filled += n;
            if let Some(end) = complete(&buf[..filled]) {
                assert!(buf.starts_with(work.status), "{}: {:?}", work.name, String::from_utf8_lossy(&buf[..end]));
                break;
            }
        }
        done.fetch_add(1, Ordering::Relaxed);
    }
}

/// The length of the response in `buf` once it is complete (head and `Content-Length` body).
fn complete(buf: &[u8]) -> Option<usize> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..head_end]).ok()?.to_ascii_lowercase();
    let length: usize = head.split("content-length:").nth(1)?.split("\r\n").next()?.trim().parse().ok()?;
    (buf.len() >= head_end + length).then_some(head_end + length)
}

/// The CPU time this process (server, writer and client threads) has used,
/// in clock ticks (1/100 s), from `/proc/self/stat`.
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses: utime is the 12th, stime the 13th.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    field(11) + field(12)
}

/// What one round measured.
#[derive(Clone, Copy, Default)]
struct Round {
    /// Requests/s over the timed window.
    rate: f64,
    /// CPU seconds of the whole process per request, the writer's catching up included.
    cpu_per_request: f64,
}

/// Requests/s against `addr` over `seconds`, with [`CONNECTIONS`] connections.
fn load(client: &tokio::runtime::Runtime, addr: SocketAddr, work: &'static Workload, seconds: f64) -> Round {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    client.block_on(async {
        let tasks: Vec<_> =
            (0..CONNECTIONS).map(|_| tokio::spawn(connection(addr, work, stop.clone(), done.clone()))).collect();
        // Let every connection open before counting.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let start_count = done.load(Ordering::Relaxed);
        let start_cpu = cpu_ticks();
        let start = Instant::now();
        tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
        let n = done.load(Ordering::Relaxed) - start_count;
        let elapsed = start.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await.expect("connection task");
        }
        assert!(error_tracker::flush(Duration::from_secs(60)), "the writer did not catch up");
        let all = done.load(Ordering::Relaxed) - start_count;
        let cpu = (cpu_ticks() - start_cpu) as f64 / 100.0;
        Round { rate: n as f64 / elapsed, cpu_per_request: cpu / all.max(1) as f64 }
    })
}

fn compare(
    name: &str,
    client: &tokio::runtime::Runtime,
    work: &'static Workload,
    with: SocketAddr,
    without: SocketAddr,
) {
    let name = format!("{name}, {}", work.name);
    let rounds: usize = std::env::var("WEB_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(8);
    let seconds: f64 = std::env::var("WEB_BENCH_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(1.0);
    // Warm up both: connections, allocator, the symbol cache of the writer.
    load(client, with, work, 0.5);
    load(client, without, work, 0.5);
    let mut with_rounds = Vec::with_capacity(rounds);
    let mut without_rounds = Vec::with_capacity(rounds);
    for round in 0..rounds {
        // Alternate which goes first, so neither always follows the other's backlog.
        let (a, b) = if round % 2 == 0 {
            let a = load(client, with, work, seconds);
            (a, load(client, without, work, seconds))
        } else {
            let b = load(client, without, work, seconds);
            (load(client, with, work, seconds), b)
        };
        println!(
            "{name} round {round}: with {:.0} req/s, {:.1} us CPU/req; with no error-tracker {:.0} req/s, {:.1} us CPU/req",
            a.rate,
            a.cpu_per_request * 1e6,
            b.rate,
            b.cpu_per_request * 1e6
        );
        with_rounds.push(a);
        without_rounds.push(b);
    }
    let mean = |v: &[Round], f: fn(&Round) -> f64| v.iter().map(f).sum::<f64>() / v.len() as f64;
    let (rate_with, rate_without) = (mean(&with_rounds, |r| r.rate), mean(&without_rounds, |r| r.rate));
    let (cpu_with, cpu_without) =
        (mean(&with_rounds, |r| r.cpu_per_request), mean(&without_rounds, |r| r.cpu_per_request));
    println!(
        "{name}: measured {rate_with:.0} req/s with the tracker, {rate_without:.0} with no error-tracker: ratio {:.3}",
        rate_with / rate_without
    );
    println!(
        "{name}: CPU per request {:.1} us with the tracker, {:.1} us without: capacity ratio {:.3} \
         ({CONNECTIONS} connections, {rounds} rounds of {seconds} s each)",
        cpu_with * 1e6,
        cpu_without * 1e6,
        cpu_without / cpu_with
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not and
    // only checks that this builds and runs briefly.
    let quick = !std::env::args().any(|a| a == "--bench");
    if quick {
        println!("web bench: quick run (use `cargo bench --bench web --features axum,actix` to measure)");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("web-bench.sqlite");
    let config = error_tracker::Config::default().database(db.to_str().expect("utf-8"));
    let _guard = error_tracker::init(config).expect("init");
    let client = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("client runtime");

    let axum_with = axum_app::start(true);
    let axum_without = axum_app::start(false);
    let actix_with = actix_app::start(true);
    let actix_without = actix_app::start(false);
    if quick {
        for work in [&FAILING, &SUCCEEDING] {
            load(&client, axum_with, work, 0.2);
            load(&client, actix_with, work, 0.2);
        }
        return;
    }
    // The issue's figure first: every request fails.
    compare("axum", &client, &FAILING, axum_with, axum_without);
    compare("actix-web", &client, &FAILING, actix_with, actix_without);
    compare("axum", &client, &SUCCEEDING, axum_with, axum_without);
    compare("actix-web", &client, &SUCCEEDING, actix_with, actix_without);
}
