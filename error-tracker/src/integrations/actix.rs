//! The middleware for actix-web 4 (the seed's Django role): [`ErrorTrackerMiddleware`].
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use error_tracker::integrations::actix::ErrorTrackerMiddleware;
//!
//! # fn run() -> std::io::Result<()> {
//! let _guard = error_tracker::init(error_tracker::Config::default()).expect("init");
//! actix_web::rt::System::new().block_on(
//!     HttpServer::new(|| {
//!         App::new()
//!             .wrap(ErrorTrackerMiddleware::new())
//!             .route("/users/{id}", web::get().to(|| async { "ok" }))
//!     })
//!     .bind("127.0.0.1:8080")?
//!     .run(),
//! )
//! # }
//! ```

use std::future::{Future, Ready, ready};
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, Uri};
use actix_web::web::Bytes;
use actix_web::{Error, HttpMessage};
use futures_util::{Stream, StreamExt};

use crate::context::{CatchPanic, RawRequest, RequestScope, RequestView, Scoped, is_capturable};
use crate::integrations::record_response;

/// Records handler panics (answered with a 500), 5xx responses (those of a
/// `ResponseError` included), and 4xx responses with
/// [`Config::track_all`](crate::Config::track_all); gives every error
/// recorded by a handler the request's context.
///
/// Wrap the whole `App` with it, so the route pattern of each request is
/// known. Requests under the UI's prefix (`APP_ERROR_URL_PREFIX`) pass
/// through untracked.
#[derive(Debug, Clone, Copy, Default)]
pub struct ErrorTrackerMiddleware {
    _private: (),
}

impl ErrorTrackerMiddleware {
    /// The middleware; its settings come from the [`Config`](crate::Config) given to [`init`](crate::init).
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S, B> Transform<S, ServiceRequest> for ErrorTrackerMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = ErrorTrackerService<S>;
    type InitError = ();
    type Future = Ready<Result<ErrorTrackerService<S>, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(ErrorTrackerService { service: Rc::new(service) }))
    }
}

/// The service that [`ErrorTrackerMiddleware`] wraps around an app.
pub struct ErrorTrackerService<S> {
    service: Rc<S>,
}

impl<S, B> Service<ServiceRequest> for ErrorTrackerService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Error>>>>;

    forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        let service = self.service.clone();
        let Some(t) = crate::tracker::get().filter(|t| !is_ui_path(req.path(), t.config.get_url_prefix())) else {
            return Box::pin(service.call(req));
        };
        Box::pin(async move {
            let captured = read_payload(&mut req, t.config.max_body_size).await;
            let scope = RequestScope::new(RawParts::of(&req, captured));
            let served = CatchPanic::new(Scoped::new(scope.clone(), async move { service.call(req).await })).await;
            match served {
                Ok(Ok(res)) => {
                    let status = res.status();
                    let error = res.response().error().map(ToString::to_string);
                    record_response(t, &scope, status.as_u16(), status.canonical_reason(), error);
                    Ok(res)
                }
                Ok(Err(e)) => {
                    // actix turns this error into a response after the middleware.
                    let status = e.as_response_error().status_code();
                    record_response(t, &scope, status.as_u16(), status.canonical_reason(), Some(e.to_string()));
                    Err(e)
                }
                Err(()) => {
                    // The panic hook recorded the panic; this only records it
                    // when another hook replaced ours.
                    record_response(t, &scope, 500, Some("Internal Server Error"), Some("the handler panicked".into()));
                    // No `HttpRequest` is left to build a response from (the
                    // panicking handler held it), and keeping a clone would
                    // break actix's routing: an error becomes the 500 instead.
                    Err(actix_web::error::ErrorInternalServerError("500 Internal Server Error"))
                }
            }
        })
    }
}

/// Whether `path` is under the UI's prefix: the tracker does not track its own UI.
fn is_ui_path(path: &str, prefix: &str) -> bool {
    !prefix.is_empty() && path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// What was read of the body before the handler runs.
type Captured = crate::integrations::Captured<Vec<u8>>;

/// Reads a JSON or form payload up to `limit` bytes and puts back a payload
/// that yields the chunks read, then the rest of the stream: a payload past
/// the limit is never buffered whole.
async fn read_payload(req: &mut ServiceRequest, limit: usize) -> Captured {
    if !is_capturable(req.headers().get(header::CONTENT_TYPE).map(|v| v.as_bytes())) {
        return Captured::No;
    }
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Captured::TooLarge(limit);
    }
    let mut payload = req.take_payload();
    let mut chunks = Vec::new();
    let mut size = 0usize;
    let captured = loop {
        match payload.next().await {
            None => {
                let whole = chunks.iter().filter_map(|c: &Result<Bytes, _>| c.as_ref().ok()).flat_map(|b| b.iter());
                break Captured::Whole(whole.copied().collect());
            }
            Some(Ok(chunk)) => {
                size += chunk.len();
                chunks.push(Ok(chunk));
                if size > limit {
                    break Captured::TooLarge(limit);
                }
            }
            Some(Err(e)) => {
                chunks.push(Err(e));
                break Captured::No;
            }
        }
    };
    let replay: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> =
        Box::pin(futures_util::stream::iter(chunks).chain(payload));
    req.set_payload(Payload::from(replay));
    captured
}

/// The raw parts of a request, kept until something is recorded: cheap
/// clones (the header values share the request's buffers).
struct RawParts {
    method: Method,
    uri: Uri,
    /// The scheme and host when the URI and the `Host` header lack them.
    https: bool,
    server_host: Option<String>,
    /// The headers in order; a list is cheaper to clone than the map.
    headers: Vec<(HeaderName, HeaderValue)>,
    route: Option<String>,
    client: Option<SocketAddr>,
    body: Captured,
}

impl RawParts {
    fn of(req: &ServiceRequest, body: Captured) -> Self {
        let uri = req.uri().clone();
        let config = req.app_config();
        let has_host = uri.authority().is_some() || req.headers().contains_key(header::HOST);
        RawParts {
            method: req.method().clone(),
            https: config.secure(),
            server_host: (!has_host).then(|| config.host().to_owned()),
            uri,
            headers: req.headers().iter().map(|(n, v)| (n.clone(), v.clone())).collect(),
            route: req.match_pattern(),
            client: req.peer_addr(),
            body,
        }
    }
}

impl RawParts {
    /// `scheme://host/path?query`, as actix's `ConnectionInfo` reads it
    /// without the `Forwarded` headers (a client may set those).
    fn url(&self) -> String {
        let scheme = self.uri.scheme_str().unwrap_or(if self.https { "https" } else { "http" });
        let host = self
            .uri
            .authority()
            .map(|a| a.as_str())
            .or_else(|| host_header(&self.headers).or(self.server_host.as_deref()));
        let target = self.uri.path_and_query().map_or("/", |pq| pq.as_str());
        format!("{scheme}://{}{target}", host.unwrap_or(""))
    }
}

/// The `Host` header, if it is text.
fn host_header(headers: &[(HeaderName, HeaderValue)]) -> Option<&str> {
    headers.iter().find(|(n, _)| *n == header::HOST).and_then(|(_, v)| v.to_str().ok())
}

impl RawRequest for RawParts {
    fn with_view(&self, f: &mut dyn FnMut(&RequestView<'_>)) {
        let headers: Vec<(&str, &[u8])> = self.headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())).collect();
        let url = self.url();
        let mut view = RequestView::new(self.method.as_str(), &url).headers(&headers).body(self.body.view());
        if let Some(route) = &self.route {
            view = view.route(route);
        }
        if let Some(addr) = self.client {
            view = view.client_addr(addr);
        }
        f(&view)
    }
}
