//! The tower layer for axum 0.8 (the seed's Flask role): [`ErrorTrackerLayer`].
//!
//! ```
//! use axum::{Router, routing::get};
//! use error_tracker::integrations::axum::{ErrorTrackerLayer, nest_ui};
//!
//! # fn app(ui_service: Router) {
//! let app = Router::new()
//!     .route("/users/{id}", get(|| async { "ok" }))
//!     // `Router::layer` runs after routing, so the route pattern is known.
//!     .layer(ErrorTrackerLayer::new());
//! // The UI (`error_tracker_ui::ErrorTrackerUi::service()`) at the
//! // configured prefix, `/dev/error`, outside the layer.
//! let app = nest_ui(app, ui_service);
//! // Serve it with the client address known to the context:
//! let _make_service = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
//! # }
//! ```

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, MatchedPath};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri, header, request::Parts};
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;
use tower_layer::Layer;
use tower_service::Service;

use crate::context::{
    CatchPanic, RawRequest, RequestScope, RequestView, Scoped, drop_payload, in_scope, is_capturable,
};
use crate::integrations::record_response;
use crate::tracker::Tracker;

/// Records handler panics (answered with a 500, the connection kept), 5xx
/// responses, and 4xx responses with [`Config::track_all`](crate::Config::track_all);
/// gives every error recorded by a handler the request's context.
///
/// Add it with `Router::layer`, which runs after routing, so that the
/// context holds the route pattern (`MatchedPath`). Serve the router with
/// `into_make_service_with_connect_info::<SocketAddr>()` for the client address.
#[derive(Debug, Clone, Copy, Default)]
pub struct ErrorTrackerLayer {
    _private: (),
}

impl ErrorTrackerLayer {
    /// The layer; its settings come from the [`Config`](crate::Config) given to [`init`](crate::init).
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S> Layer<S> for ErrorTrackerLayer {
    type Service = ErrorTracker<S>;

    fn layer(&self, inner: S) -> ErrorTracker<S> {
        ErrorTracker { inner }
    }
}

/// The service that [`ErrorTrackerLayer`] wraps around a handler or router.
#[derive(Debug, Clone)]
pub struct ErrorTracker<S> {
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> Service<Request<Body>> for ErrorTracker<S>
where
    S: Service<Request<Body>> + Clone + Send + 'static,
    S::Response: IntoResponse,
    S::Error: Send,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let Some(t) = crate::tracker::get() else {
            return ResponseFuture { state: State::Untracked { inner: self.inner.call(req) } };
        };
        let (parts, body) = req.into_parts();
        if !is_capturable(parts.headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes())) {
            // Nothing to read first: the ready service serves it now.
            let scope = RequestScope::new(RawParts::of(&parts, Captured::No));
            return ResponseFuture { state: serve(&mut self.inner, Request::from_parts(parts, body), scope, t) };
        }
        // The body is read before the handler runs: the ready service goes
        // into the future; a fresh clone waits for the next poll_ready.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let read = Box::pin(read_body(parts, body, t.config.max_body_size));
        ResponseFuture { state: State::Read { read, inner: Some(inner), t } }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`ErrorTracker`]: the response, with what the request
    /// recorded.
    pub struct ResponseFuture<S: Service<Request<Body>>> {
        #[pin]
        state: State<S>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<S: Service<Request<Body>>> {
        /// Before `init`: the request passes through untouched.
        Untracked { #[pin] inner: S::Future },
        /// Reading a JSON or form body, before the handler runs.
        Read { read: BoxFuture<(Parts, Captured, Body)>, inner: Option<S>, t: &'static Tracker },
        /// The handler runs, in the request's scope.
        Serve { #[pin] served: CatchPanic<Scoped<S::Future>>, t: &'static Tracker },
        /// The inner service's `call` panicked: answered as a handler's panic.
        Panicked { scope: Arc<RequestScope>, t: &'static Tracker },
    }
}

/// Calls the ready service in the request's scope, so that what it does
/// before its future is first polled (a `service_fn`'s synchronous part)
/// records with the request, and a panic there is answered with a 500, as
/// one in the handler is, rather than closing the connection.
fn serve<S>(inner: &mut S, req: Request<Body>, scope: Arc<RequestScope>, t: &'static Tracker) -> State<S>
where
    S: Service<Request<Body>>,
{
    match std::panic::catch_unwind(AssertUnwindSafe(|| in_scope(&scope, || inner.call(req)))) {
        Ok(served) => State::Serve { served: CatchPanic::new(Scoped::new(scope, served)), t },
        Err(payload) => {
            drop_payload(payload);
            State::Panicked { scope, t }
        }
    }
}

impl<S> std::fmt::Debug for ResponseFuture<S>
where
    S: Service<Request<Body>>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<S> Future for ResponseFuture<S>
where
    S: Service<Request<Body>>,
    S::Response: IntoResponse,
{
    type Output = Result<Response, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let state = self.as_mut().project().state;
            let (outcome, t, scope) = match state.project() {
                StateProj::Untracked { inner } => return inner.poll(cx).map_ok(IntoResponse::into_response),
                StateProj::Read { read, inner, t } => {
                    let (parts, captured, body) = std::task::ready!(read.as_mut().poll(cx));
                    let t = *t;
                    let scope = RequestScope::new(RawParts::of(&parts, captured));
                    let Some(mut inner) = inner.take() else { unreachable!("a body is read once") };
                    let next = serve(&mut inner, Request::from_parts(parts, body), scope, t);
                    self.as_mut().project().state.set(next);
                    continue;
                }
                StateProj::Serve { mut served, t } => {
                    let outcome = std::task::ready!(served.as_mut().poll(cx));
                    // The request's scope, which the future served it in.
                    (outcome, *t, served.into_ref().get_ref().inner().scope())
                }
                StateProj::Panicked { scope, t } => (Err(()), *t, &*scope),
            };
            return Poll::Ready(match outcome {
                Ok(Ok(res)) => {
                    let res = res.into_response();
                    let status = res.status();
                    record_response(t, scope, status.as_u16(), status.canonical_reason(), None);
                    Ok(res)
                }
                Ok(Err(e)) => Err(e),
                Err(()) => {
                    // The panic hook recorded the panic; this only records it
                    // when another hook replaced ours.
                    record_response(t, scope, 500, Some("Internal Server Error"), Some("the handler panicked".into()));
                    Ok((StatusCode::INTERNAL_SERVER_ERROR, "500 Internal Server Error\n").into_response())
                }
            });
        }
    }
}

/// What was read of the body before the handler runs.
type Captured = crate::integrations::Captured<Bytes>;

/// Reads a JSON or form body up to `limit` bytes. The handler gets the
/// same body back: the frames read, then the rest of the stream, so a body
/// past the limit is never buffered whole.
async fn read_body(parts: Parts, body: Body, limit: usize) -> (Parts, Captured, Body) {
    let (captured, body) = read_capturable(&parts.headers, body, limit).await;
    (parts, captured, body)
}

/// [`read_body`] of a body whose `Content-Type` is captured.
async fn read_capturable(headers: &HeaderMap, mut body: Body, limit: usize) -> (Captured, Body) {
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return (Captured::TooLarge(limit), body);
    }
    let mut frames = VecDeque::new();
    let mut size = 0usize;
    loop {
        match body.frame().await {
            None => {
                let data: Vec<&Bytes> = frames.iter().filter_map(Frame::data_ref).collect();
                let whole = match data[..] {
                    [] => Bytes::new(),
                    [one] => one.clone(),
                    _ => Bytes::from(data.iter().flat_map(|b| b.iter().copied()).collect::<Vec<u8>>()),
                };
                return (Captured::Whole(whole), Body::new(Replay { frames, error: None, rest: None }));
            }
            Some(Ok(frame)) => {
                size += frame.data_ref().map_or(0, Bytes::len);
                frames.push_back(frame);
                if size > limit {
                    return (Captured::TooLarge(limit), Body::new(Replay { frames, error: None, rest: Some(body) }));
                }
            }
            Some(Err(e)) => return (Captured::No, Body::new(Replay { frames, error: Some(e), rest: None })),
        }
    }
}

/// A body that yields the frames already read, then the error met while
/// reading, then the rest of the original body.
struct Replay {
    frames: VecDeque<Frame<Bytes>>,
    error: Option<axum::Error>,
    rest: Option<Body>,
}

impl http_body::Body for Replay {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        if let Some(frame) = this.frames.pop_front() {
            return Poll::Ready(Some(Ok(frame)));
        }
        if let Some(e) = this.error.take() {
            return Poll::Ready(Some(Err(e)));
        }
        match &mut this.rest {
            Some(rest) => Pin::new(rest).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.frames.is_empty() && self.error.is_none() && self.rest.as_ref().is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        let buffered: u64 = self.frames.iter().filter_map(Frame::data_ref).map(|b| b.len() as u64).sum();
        let mut hint = self.rest.as_ref().map_or_else(|| SizeHint::with_exact(0), http_body::Body::size_hint);
        hint.set_lower(hint.lower() + buffered);
        if let Some(upper) = hint.upper() {
            hint.set_upper(upper + buffered);
        }
        hint
    }
}

/// The raw parts of a request, kept until something is recorded: cheap
/// clones (the header values and the body share the request's buffers).
struct RawParts {
    method: Method,
    uri: Uri,
    /// The headers in order; a list is cheaper to clone than the map.
    headers: Vec<(HeaderName, HeaderValue)>,
    route: Option<MatchedPath>,
    client: Option<SocketAddr>,
    body: Captured,
}

impl RawParts {
    fn of(parts: &Parts, body: Captured) -> Self {
        RawParts {
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            headers: parts.headers.iter().map(|(n, v)| (n.clone(), v.clone())).collect(),
            route: parts.extensions.get::<MatchedPath>().cloned(),
            client: parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0),
            body,
        }
    }
}

/// The `Host` header, if it is text.
fn host_header(headers: &[(HeaderName, HeaderValue)]) -> Option<&str> {
    headers.iter().find(|(n, _)| *n == header::HOST).and_then(|(_, v)| v.to_str().ok())
}

impl RawRequest for RawParts {
    fn with_view(&self, f: &mut dyn FnMut(&RequestView<'_>)) {
        let headers: Vec<(&str, &[u8])> = self.headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())).collect();
        let url = full_url(&self.uri, host_header(&self.headers));
        let mut view = RequestView::new(self.method.as_str(), &url).headers(&headers).body(self.body.view());
        if let Some(route) = &self.route {
            view = view.route(route.as_str());
        }
        if let Some(addr) = self.client {
            view = view.client_addr(addr);
        }
        f(&view)
    }
}

/// `scheme://host/path?query`: from the URI when it is absolute (HTTP/2,
/// proxies), else from the `Host` header.
fn full_url(uri: &Uri, host: Option<&str>) -> String {
    if uri.scheme().is_some() && uri.authority().is_some() {
        return uri.to_string();
    }
    let target = uri.path_and_query().map_or("/", |pq| pq.as_str());
    match host {
        Some(host) => format!("http://{host}{target}"),
        None => target.to_owned(),
    }
}

/// Nests the error-tracker UI at the configured URL prefix
/// (`APP_ERROR_URL_PREFIX`, `/dev/error` by default) of `router`.
///
/// `ui` is the UI's tower service: `error_tracker_ui::ErrorTrackerUi::service()`
/// (the `error-tracker-ui` crate; any `Service<Request<Body>>` will do). Nest
/// it after adding [`ErrorTrackerLayer`], so the UI's own requests are not
/// tracked.
pub fn nest_ui<St, U>(router: Router<St>, ui: U) -> Router<St>
where
    St: Clone + Send + Sync + 'static,
    U: Service<Request<Body>, Error = Infallible> + Clone + Send + Sync + 'static,
    U::Response: IntoResponse,
    U::Future: Send + 'static,
{
    let prefix = crate::config().map_or("/dev/error", |c| c.get_url_prefix());
    if prefix.is_empty() || prefix == "/" { router.fallback_service(ui) } else { router.nest_service(prefix, ui) }
}
