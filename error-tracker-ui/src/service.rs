//! The tower adapter ([`UiService`]) and a hyper server loop ([`serve`]).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::Semaphore;

use crate::ErrorTrackerUi;
use crate::request::{UiRequest, UiResponse};

/// Request bodies (only the action forms have one) are refused beyond this.
const MAX_BODY: usize = 64 * 1024;
/// Request heads (the headers' names and values) are refused beyond this,
/// with a 431 of our own that carries the security headers.
const MAX_HEAD: usize = 16 * 1024;
/// Past these, hyper itself answers 431, without our headers: we cannot
/// reach that answer. They are well above [`MAX_HEAD`], so only a client
/// sending a head several times too large sees it (and it holds no data).
const HYPER_MAX_HEAD: usize = 64 * 1024;
const HYPER_MAX_HEADERS: usize = 200;
/// More headers than this get our own 431 (hyper's default limit is 100).
const MAX_HEADERS: usize = 100;

/// The client's address, as a request extension. [`serve`] inserts it; in
/// your own server, insert it (or a plain `SocketAddr`) for
/// [`LocalhostOnly`](crate::LocalhostOnly) to see the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// [`ErrorTrackerUi`] as a tower `Service<http::Request<B>>`, for any body `B`.
///
/// With axum, mount it with `Router::nest_service(prefix, ui.service())`, the
/// same prefix as the UI's. Store reads run on tokio's blocking pool.
///
/// ```
/// use std::sync::Arc;
/// use error_tracker::MemoryStore;
/// use error_tracker_ui::{AllowAll, ErrorTrackerUi};
///
/// let ui = ErrorTrackerUi::new(Arc::new(MemoryStore::default())).permission(AllowAll);
/// let app: axum::Router = axum::Router::new().nest_service("/dev/error", ui.service());
/// ```
#[derive(Clone, Debug)]
pub struct UiService {
    ui: ErrorTrackerUi,
    /// Bounds the requests answered at once: past the cores, more threads only
    /// time-slice the same CPU, and each one beyond the store's pool of idle
    /// connections opens a new connection with a cold cache. The rest wait in
    /// order, which keeps the tail latency close to the queue's length.
    running: Arc<Semaphore>,
}

impl UiService {
    pub(crate) fn new(ui: ErrorTrackerUi) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self { ui, running: Arc::new(Semaphore::new(cores.clamp(2, 8))) }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<B> tower_service::Service<http::Request<B>> for UiService
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let ui = self.ui.clone();
        let running = self.running.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let head: usize = parts.headers.iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum();
            if head > MAX_HEAD || parts.headers.len() > MAX_HEADERS {
                return Ok(into_http(ui.refuse(parts.uri.path(), 431, "431 Request Header Fields Too Large")));
            }
            let mut request = ui_request(&parts);
            // Who is asking comes first: an unauthenticated client gets its
            // 401 without the server reading (or limiting) its body.
            if let Err(refusal) = ui.admit(&request) {
                return Ok(into_http(ui.finish(refusal)));
            }
            // Only the action forms (POST) have a body worth reading.
            if request.method.eq_ignore_ascii_case("POST") {
                request.body = match Limited::new(body, MAX_BODY).collect().await {
                    Ok(b) => b.to_bytes().to_vec(),
                    Err(_) => return Ok(into_http(ui.refuse(&request.path, 413, "413 Payload Too Large"))),
                };
            }
            let response = match tokio::runtime::Handle::try_current() {
                // SQLite reads block: keep them off the executor's threads.
                Ok(rt) => {
                    let _turn = running.acquire_owned().await;
                    let ui2 = ui.clone();
                    let path = request.path.clone();
                    rt.spawn_blocking(move || ui2.respond(&request))
                        .await
                        .unwrap_or_else(|_| ui.refuse(&path, 500, "500 Internal error: the handler panicked"))
                }
                Err(_) => ui.respond(&request),
            };
            Ok(into_http(response))
        })
    }
}

/// The request without its body: the body is read once the client is admitted.
fn ui_request(parts: &http::request::Parts) -> UiRequest {
    let peer =
        parts.extensions.get::<PeerAddr>().map(|p| p.0).or_else(|| parts.extensions.get::<SocketAddr>().copied());
    UiRequest {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
        body: Vec::new(),
        peer,
    }
}

fn into_http(r: UiResponse) -> http::Response<Full<Bytes>> {
    let mut builder = http::Response::builder().status(r.status);
    for (name, value) in &r.headers {
        builder = builder.header(*name, value.as_str());
    }
    builder.body(Full::new(Bytes::from(r.body))).unwrap_or_else(|_| {
        // Only a header value with a control character gets here; say so
        // rather than panic, with the security headers all the same.
        let mut res = http::Response::new(Full::new(Bytes::from_static(b"500 Internal error: bad header\n")));
        *res.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
        let mut fallback = UiResponse { status: 500, headers: Vec::new(), body: Vec::new() };
        crate::add_security_headers(&mut fallback);
        for (name, value) in fallback.headers {
            if let Ok(v) = http::HeaderValue::from_str(&value) {
                res.headers_mut().insert(name, v);
            }
        }
        res
    })
}

/// Serves the UI over HTTP/1.1 on `listener` until the task is dropped.
/// Each connection is served on its own task; the client address is passed
/// on as [`PeerAddr`].
///
/// ```no_run
/// # use std::sync::Arc;
/// # use error_tracker_ui::{ErrorTrackerUi, LocalhostOnly};
/// # async fn run() -> std::io::Result<()> {
/// let store = Arc::new(error_tracker::SqliteStore::open("errors.sqlite", 100).unwrap());
/// let ui = ErrorTrackerUi::new(store).permission(LocalhostOnly);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// error_tracker_ui::serve(listener, ui).await
/// # }
/// ```
pub async fn serve(listener: tokio::net::TcpListener, ui: ErrorTrackerUi) -> std::io::Result<()> {
    let service = ui.service();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                eprintln!("error-tracker-ui: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(PeerAddr(peer));
                tower_service::Service::call(&mut service.clone(), req)
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(30))
                .max_header_size(HYPER_MAX_HEAD)
                .max_headers(HYPER_MAX_HEADERS)
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
