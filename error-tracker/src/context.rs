//! The request context: the [`ContextBuilder`] trait (the seed's
//! `ContextBuilderMixin`), its default, and the scope in which the web
//! integrations make the context of the request being served visible to the
//! capture path.
//!
//! The scope is a future wrapper: each time the request's future is polled,
//! on whatever thread the executor picks, the scope is put into a
//! thread-local for the length of that poll. So it holds across `.await`
//! and thread hops on tokio's multi-thread runtime, and it is just as right
//! on actix-web's single-thread workers, where many requests interleave on
//! one thread.

// Without a web integration compiled in, nothing sets a scope: the scope
// machinery is kept (and unit-tested) rather than sprinkled with `cfg`s.
#![cfg_attr(not(any(feature = "axum", feature = "actix")), allow(dead_code))]

use std::cell::Cell;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, TryLockError};
use std::task::{Context, Poll};

use crate::breadcrumbs::Ring;
use crate::json::{Map, Value};

use crate::mask::{Masking, mask_json_keys, truncate_string};
use crate::occurrence::{RequestContext, Variable};
use crate::reentry::guarded;

/// The default limit on a captured request body: 64 KiB.
pub const DEFAULT_MAX_BODY_SIZE: usize = 64 * 1024;

/// Headers whose values are masked whatever the configured key rules say.
pub const ALWAYS_MASKED_HEADERS: &[&str] =
    &["authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"];

/// Builds the stored context of an HTTP request: the seed's `ContextBuilderMixin`.
///
/// The result is attached to every error and panic recorded while the
/// request is served. [`build`](Self::build) runs at most once per request,
/// and only for a request during which something was recorded: on the
/// tracker's writer thread, when the first such occurrence is stored, not
/// on the request's thread (so a request that fails nothing costs no
/// context at all). Set a custom builder with
/// [`Config::context_builder`](crate::Config::context_builder) to add to the
/// context (a user id, a data-center name) or to replace it.
///
/// Whatever the builder returns is masked again before it is stored:
/// headers by name (always `Authorization`, `Proxy-Authorization`,
/// `Cookie`, `Set-Cookie` and `X-Api-Key`), query parameters, body keys and
/// custom values by the key rules. A builder that panics is replaced by
/// [`DefaultContextBuilder`] for that request.
///
/// ```
/// use error_tracker::{ContextBuilder, DefaultContextBuilder, DefaultMasking, Masking, RequestContext, RequestView, Variable};
///
/// /// The default context, plus the data center this instance runs in.
/// struct WithDataCenter(&'static str);
///
/// impl ContextBuilder for WithDataCenter {
///     fn build(&self, request: &RequestView<'_>, masking: &dyn Masking) -> RequestContext {
///         let mut context = DefaultContextBuilder.build(request, masking);
///         context.custom.push(Variable { name: "data_center".into(), value: self.0.into() });
///         context
///     }
/// }
///
/// let headers = [("authorization", &b"Bearer abc.def"[..]), ("accept", &b"*/*"[..])];
/// let request = RequestView::new("GET", "http://example.com/users/7?token=t0k&page=2")
///     .route("/users/{id}")
///     .headers(&headers);
/// let context = WithDataCenter("eu-1").build(&request, &DefaultMasking::default());
/// assert_eq!(context.route.as_deref(), Some("/users/{id}"));
/// assert_eq!(context.url, "http://example.com/users/7?token=**************&page=2");
/// assert_eq!(context.headers[0], ("authorization".to_owned(), "**************".to_owned()));
/// assert_eq!(context.custom[0].value, "eu-1");
/// ```
pub trait ContextBuilder: Send + Sync + 'static {
    /// The context of `request`, masked with `masking`.
    fn build(&self, request: &RequestView<'_>, masking: &dyn Masking) -> RequestContext;
}

/// The default [`ContextBuilder`]: method, full URL, route pattern, headers,
/// query parameters, client address, JSON and form bodies, and the cookies
/// (each value masked by its cookie's name).
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultContextBuilder;

impl ContextBuilder for DefaultContextBuilder {
    fn build(&self, request: &RequestView<'_>, masking: &dyn Masking) -> RequestContext {
        let query = masked_pairs(masking, request.query().unwrap_or(""));
        let mut context = RequestContext {
            method: request.method.to_owned(),
            url: masked_url(masking, request.url, request.query().map(|_| &query[..])),
            path: request.path().to_owned(),
            route: request.route.map(str::to_owned),
            headers: Vec::with_capacity(request.headers.len()),
            query,
            body: body_value(masking, request),
            client_addr: request.client_addr.map(|a| a.to_string()),
            custom: Vec::new(),
        };
        let mut cookies = Map::new();
        for &(name, value) in request.headers {
            let text = String::from_utf8_lossy(value);
            if name.eq_ignore_ascii_case("cookie") {
                for (k, v) in text.split(';').filter_map(|c| c.trim().split_once('=')) {
                    let v = if masking.is_secret_key(k) { masking.mask().to_owned() } else { truncate_string(v) };
                    cookies.insert(k.to_owned(), Value::String(v));
                }
            }
            let value =
                if is_secret_header(masking, name) { masking.mask().to_owned() } else { truncate_string(&text) };
            context.headers.push((name.to_owned(), value));
        }
        if !cookies.is_empty() {
            context.custom.push(Variable { name: "cookies".to_owned(), value: Value::Object(cookies) });
        }
        context
    }
}

/// What a web integration knows about a request, for a [`ContextBuilder`].
///
/// Everything is borrowed from the framework's request; nothing is masked yet.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    method: &'a str,
    url: &'a str,
    route: Option<&'a str>,
    headers: &'a [(&'a str, &'a [u8])],
    client_addr: Option<SocketAddr>,
    body: RequestBody<'a>,
}

/// What was captured of a request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestBody<'a> {
    /// No body, or one that is neither JSON nor a form, so not read.
    NotCaptured,
    /// A JSON or form body, whole.
    Captured(&'a [u8]),
    /// A JSON or form body past the size limit: not buffered, so streaming
    /// handlers still stream it.
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
}

impl<'a> RequestView<'a> {
    /// A request with a method and its full URL (`scheme://host/path?query`).
    pub fn new(method: &'a str, url: &'a str) -> Self {
        Self { method, url, route: None, headers: &[], client_addr: None, body: RequestBody::NotCaptured }
    }

    /// Sets the route pattern that matched, such as `/users/{id}`.
    pub fn route(mut self, route: &'a str) -> Self {
        self.route = Some(route);
        self
    }

    /// Sets the headers, in order, with lower-case names.
    pub fn headers(mut self, headers: &'a [(&'a str, &'a [u8])]) -> Self {
        self.headers = headers;
        self
    }

    /// Sets the client address.
    pub fn client_addr(mut self, addr: SocketAddr) -> Self {
        self.client_addr = Some(addr);
        self
    }

    /// Sets what was captured of the body.
    pub fn body(mut self, body: RequestBody<'a>) -> Self {
        self.body = body;
        self
    }

    /// The method: `GET`, `POST`, ...
    pub fn method(&self) -> &'a str {
        self.method
    }

    /// The full URL, as received.
    pub fn url(&self) -> &'a str {
        self.url
    }

    /// The URL path, without the query.
    pub fn path(&self) -> &'a str {
        let after_scheme = self.url.find("://").map_or(0, |i| i + 3);
        let rest = &self.url[after_scheme..];
        let start = if after_scheme == 0 { 0 } else { rest.find('/').unwrap_or(rest.len()) };
        let path = &rest[start..];
        let path = path.split(['?', '#']).next().unwrap_or("");
        if path.is_empty() { "/" } else { path }
    }

    /// The raw query string, without the `?`.
    pub fn query(&self) -> Option<&'a str> {
        let q = self.url.split_once('?')?.1;
        Some(q.split('#').next().unwrap_or(""))
    }

    /// The route pattern that matched, if known.
    pub fn route_pattern(&self) -> Option<&'a str> {
        self.route
    }

    /// The headers, in order.
    pub fn header_list(&self) -> &'a [(&'a str, &'a [u8])] {
        self.headers
    }

    /// The value of the first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
    }

    /// The client address, if known.
    pub fn client(&self) -> Option<SocketAddr> {
        self.client_addr
    }

    /// What was captured of the body.
    pub fn captured_body(&self) -> RequestBody<'a> {
        self.body
    }
}

/// Whether a body with this `Content-Type` is captured: JSON and forms.
pub(crate) fn is_capturable(content_type: Option<&[u8]>) -> bool {
    body_kind(content_type).is_some()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    Json,
    Form,
}

fn body_kind(content_type: Option<&[u8]>) -> Option<BodyKind> {
    let ct = std::str::from_utf8(content_type?).ok()?;
    let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if essence == "application/json" || essence.ends_with("+json") {
        Some(BodyKind::Json)
    } else if essence == "application/x-www-form-urlencoded" {
        Some(BodyKind::Form)
    } else {
        None
    }
}

fn body_value(m: &dyn Masking, request: &RequestView<'_>) -> Option<Value> {
    match request.body {
        RequestBody::NotCaptured => None,
        RequestBody::TooLarge { limit } => Some(Value::String(format!("<body over {limit} bytes, not captured>"))),
        RequestBody::Captured([]) => None,
        RequestBody::Captured(bytes) => {
            let mut value = match body_kind(request.header("content-type")) {
                Some(BodyKind::Json) => Value::from_slice(bytes).unwrap_or_else(|_| {
                    // Not valid JSON: keep the text, with `"password": …` pairs masked.
                    Value::String(m.mask_text(&truncate_string(&String::from_utf8_lossy(bytes))).into_owned())
                }),
                Some(BodyKind::Form) => form_value(bytes),
                None => Value::String(m.mask_text(&truncate_string(&String::from_utf8_lossy(bytes))).into_owned()),
            };
            mask_json_keys(m, &mut value, 0);
            Some(value)
        }
    }
}

/// A form body as an object; a repeated key becomes an array.
fn form_value(bytes: &[u8]) -> Value {
    let mut map = Map::new();
    for (k, v) in form_urlencoded::parse(bytes) {
        let v = Value::String(truncate_string(&v));
        match map.get_mut(k.as_ref()) {
            Some(Value::Array(items)) => items.push(v),
            Some(first) => *first = Value::Array(vec![first.take(), v]),
            None => {
                map.insert(k.into_owned(), v);
            }
        }
    }
    Value::Object(map)
}

fn masked_pairs(m: &dyn Masking, query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| {
            let v = if m.is_secret_key(&k) { m.mask().to_owned() } else { truncate_string(&v) };
            (k.into_owned(), v)
        })
        .collect()
}

/// The URL with its userinfo password masked and its query rebuilt from
/// the masked parameters.
fn masked_url(m: &dyn Masking, url: &str, query: Option<&[(String, String)]>) -> String {
    let base = url.split(['?', '#']).next().unwrap_or(url);
    let mut out = mask_userinfo(m, base);
    if let Some(pairs) = query {
        out.push('?');
        for (i, (k, v)) in pairs.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            out.extend(form_urlencoded::byte_serialize(k.as_bytes()));
            out.push('=');
            // The mask is stored as is, not percent-encoded, so that it reads as a mask.
            if v == m.mask() {
                out.push_str(v);
            } else {
                out.extend(form_urlencoded::byte_serialize(v.as_bytes()));
            }
        }
    }
    out
}

/// `scheme://user:pass@host/…` → `scheme://user:<mask>@host/…`; a user
/// name without a password is masked too, as it may be a token.
fn mask_userinfo(m: &dyn Masking, url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return url.to_owned() };
    let authority_end = url[scheme_end..].find('/').map_or(url.len(), |i| scheme_end + i);
    match url[scheme_end..authority_end].rfind('@') {
        None => url.to_owned(),
        Some(at) => {
            let userinfo = &url[scheme_end..scheme_end + at];
            let user = match userinfo.split_once(':') {
                Some((user, _)) => format!("{user}:{}", m.mask()),
                None => m.mask().to_owned(),
            };
            format!("{}{user}{}", &url[..scheme_end], &url[scheme_end + at..])
        }
    }
}

fn is_secret_header(m: &dyn Masking, name: &str) -> bool {
    ALWAYS_MASKED_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name)) || m.is_secret_key(name)
}

/// Masks what a (possibly custom) builder returned, by name: the header,
/// query, body and custom values. Runs before the handler, so no error
/// recorded by the handler ever holds an unmasked header.
pub(crate) fn enforce_masking(m: &dyn Masking, c: &mut RequestContext) {
    for (name, value) in &mut c.headers {
        if is_secret_header(m, name) && value != m.mask() {
            *value = m.mask().to_owned();
        }
    }
    for (name, value) in &mut c.query {
        if m.is_secret_key(name) && value != m.mask() {
            *value = m.mask().to_owned();
        }
    }
    if let Some(body) = &mut c.body {
        mask_json_keys(m, body, 0);
    }
    for v in &mut c.custom {
        if m.is_secret_key(&v.name) {
            v.value = Value::String(m.mask().to_owned());
        } else {
            mask_json_keys(m, &mut v.value, 0);
        }
    }
    c.url = mask_userinfo(m, &c.url);
}

/// What a web integration keeps of a request being served: its raw,
/// unmasked parts. They never leave the process as they are: the writer
/// thread builds the masked context from them (see [`RequestScope::context`]).
pub(crate) trait RawRequest: Send + Sync + 'static {
    /// Calls `f` with a view of the request.
    fn with_view(&self, f: &mut dyn FnMut(&RequestView<'_>));
}

/// One request being served: its raw parts, its masked context once built,
/// and whether anything was recorded with it (so the integration does not
/// record its 5xx twice).
///
/// Building the context (masking every header, the query, the body) is
/// most of what tracking a request costs, and most requests record nothing:
/// so the request's own thread only keeps the raw parts, and the context is
/// built on the writer thread, once per request, when an occurrence that
/// happened during it is stored. A storm's repeats that the writer only
/// counts never build it.
///
/// `R` is the integration's raw parts; a scope is used as
/// `Arc<RequestScope>` (`R = dyn RawRequest`), one allocation per request:
/// the raw parts are the last field so that `Arc<RequestScope<RawParts>>`
/// coerces to it without a box of their own. A field that every
/// integration's scope has goes before `raw`.
pub(crate) struct RequestScope<R: ?Sized = dyn RawRequest> {
    context: OnceLock<RequestContext>,
    recorded: AtomicBool,
    /// What the request logged (see `trail`): made on its first breadcrumb,
    /// so a request that logs nothing allocates nothing for it.
    breadcrumbs: OnceLock<Mutex<Ring>>,
    raw: R,
}

impl RequestScope {
    pub(crate) fn new<R: RawRequest>(raw: R) -> Arc<Self> {
        Arc::new(RequestScope {
            context: OnceLock::new(),
            recorded: AtomicBool::new(false),
            breadcrumbs: OnceLock::new(),
            raw,
        })
    }

    /// Whether an error or panic was recorded while the request was served.
    pub(crate) fn recorded(&self) -> bool {
        self.recorded.load(Ordering::Relaxed)
    }

    /// The masked context, built on first use with the configured builder.
    /// Runs on the writer thread: should even the default builder panic, the
    /// context is left empty and the writer goes on.
    pub(crate) fn context(&self, builder: Option<&dyn ContextBuilder>, m: &dyn Masking) -> &RequestContext {
        self.context.get_or_init(|| {
            let mut context = None;
            guarded(|| self.raw.with_view(&mut |view| context = Some(build_context(builder, m, view))));
            context.unwrap_or_default()
        })
    }

    /// What the request logged, oldest first (see `trail`): for what is
    /// recorded of it after its handler is done, outside its scope.
    pub(crate) fn breadcrumbs(&self) -> Vec<crate::occurrence::Breadcrumb> {
        let Some(ring) = self.breadcrumbs.get() else { return Vec::new() };
        match ring.try_lock() {
            Ok(ring) => ring.breadcrumbs(),
            Err(TryLockError::Poisoned(p)) => p.into_inner().breadcrumbs(),
            Err(TryLockError::WouldBlock) => Vec::new(),
        }
    }

    /// The method, and the route pattern or else the path: what names the
    /// request in the message of a recorded response.
    pub(crate) fn describe(&self) -> (String, String) {
        let mut out = (String::new(), String::new());
        self.raw.with_view(&mut |v| out = (v.method().to_owned(), v.route_pattern().unwrap_or(v.path()).to_owned()));
        out
    }
}

/// Builds the masked context of a request with the configured
/// [`ContextBuilder`]. A custom builder that panics falls back on the
/// default one.
fn build_context(builder: Option<&dyn ContextBuilder>, m: &dyn Masking, view: &RequestView<'_>) -> RequestContext {
    match builder {
        Some(builder) => {
            let mut context =
                guarded(|| builder.build(view, m)).unwrap_or_else(|| DefaultContextBuilder.build(view, m));
            // A custom builder may have added or replaced anything: mask it again.
            enforce_masking(m, &mut context);
            context
        }
        // The default builder masks as it builds.
        None => DefaultContextBuilder.build(view, m),
    }
}

/// What the request being polled on this thread leaves for the capture
/// path, set by [`Scoped`] for the length of one poll.
#[derive(Clone, Copy)]
struct Current {
    /// The scope of the [`in_scope`] call running on this thread (a poll
    /// of a [`Scoped`] future, or a service's `call`), null outside one. It
    /// points to the `Arc` that call borrows, so it is alive until the call
    /// returns, and the previous value is put back before the call returns
    /// or unwinds: read only by this thread, during that call.
    scope: *const Arc<RequestScope>,
    /// An address in the stack frame that polls the current request's
    /// future (0 without one): where the capture path stops walking.
    boundary: usize,
}

thread_local! {
    static CURRENT: Cell<Current> = const { Cell::new(Current { scope: std::ptr::null(), boundary: 0 }) };
}

/// The stack address above which the frames are the server's (its runtime,
/// HTTP and routing code, the same for every request), not the request's:
/// the capture path does not walk them. 0 outside a request.
pub(crate) fn stack_boundary() -> usize {
    CURRENT.try_with(|c| c.get().boundary).unwrap_or(0)
}

/// Calls `f` with the scope of the request being served on this task or
/// thread, if a web integration set one. Without a scope it costs one
/// thread-local read.
fn with_current<T>(f: impl FnOnce(&Arc<RequestScope>) -> T) -> Option<T> {
    let scope = CURRENT.try_with(|c| c.get().scope).ok()?;
    // SAFETY: non-null, it points to the scope borrowed by the `in_scope`
    // call running on this thread, alive until that call returns, which is
    // after this one (see `Current::scope`).
    let scope = unsafe { scope.as_ref() }?;
    Some(f(scope))
}

/// The request being served on this task or thread, if a web integration
/// set one, marked as having recorded something.
pub(crate) fn current_request() -> Option<Arc<RequestScope>> {
    with_current(|scope| {
        scope.recorded.store(true, Ordering::Relaxed);
        scope.clone()
    })
}

/// Runs `f` on the breadcrumb ring of the request being served: `None`
/// outside a request; `Some(None)` when the request has no ring (and
/// `capacity` is `None`, so none is made) or another poll holds it (the
/// breadcrumb is dropped rather than waited for).
pub(crate) fn with_request_ring<R>(capacity: Option<usize>, f: impl FnOnce(&mut Ring) -> R) -> Option<Option<R>> {
    with_current(|scope| {
        let ring = match capacity {
            Some(n) => Some(scope.breadcrumbs.get_or_init(|| Mutex::new(Ring::new(n)))),
            None => scope.breadcrumbs.get(),
        };
        let mut ring = match ring?.try_lock() {
            Ok(ring) => ring,
            // A user `Debug` that panicked while filling an entry: the
            // ring is whole (entries are filled in place).
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return None,
        };
        Some(f(&mut ring))
    })
}

/// Marks the request being served, if any, as having recorded something,
/// without taking it: an occurrence only counted (see `budget`) needs no
/// context, but the integration must not record the response for it.
pub(crate) fn mark_request_recorded() {
    with_current(|scope| scope.recorded.store(true, Ordering::Relaxed));
}

pin_project_lite::pin_project! {
    /// A future that runs with `scope` as the current request on every poll.
    pub(crate) struct Scoped<F> {
        scope: Arc<RequestScope>,
        #[pin]
        inner: F,
    }
}

impl<F> Scoped<F> {
    pub(crate) fn new(scope: Arc<RequestScope>, inner: F) -> Self {
        Self { scope, inner }
    }

    /// The request this future serves.
    pub(crate) fn scope(&self) -> &Arc<RequestScope> {
        &self.scope
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        in_scope(this.scope, || this.inner.poll(cx))
    }
}

/// Runs `f` with `scope` as the current request of this thread: each poll
/// of a [`Scoped`] future, and the work a service does in `call` before its
/// future is first polled.
pub(crate) fn in_scope<T>(scope: &Arc<RequestScope>, f: impl FnOnce() -> T) -> T {
    /// Puts the previous scope and boundary back, also when `f` unwinds.
    struct Restore(Option<Current>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(previous) = self.0 {
                let _ = CURRENT.try_with(|c| c.set(previous));
            }
        }
    }
    // The stack grows down: the frames that `f` calls are below this
    // local, the server's frames that called it above.
    let marker = 0u8;
    let here = std::hint::black_box(&marker) as *const u8 as usize;
    let current = Current { scope: std::ptr::from_ref(scope), boundary: here };
    let _restore = Restore(CURRENT.try_with(|c| c.replace(current)).ok());
    f()
}

/// Drops a caught panic's payload: one whose own `Drop` panics must not
/// take the server down.
pub(crate) fn drop_payload(payload: Box<dyn std::any::Any + Send>) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(payload)));
}

pin_project_lite::pin_project! {
    /// A future that turns a panic while polling `inner` into `Err(())`. The
    /// panic hook has already recorded the panic, with the request's context.
    pub(crate) struct CatchPanic<F> {
        #[pin]
        inner: F,
    }
}

impl<F> CatchPanic<F> {
    pub(crate) fn new(inner: F) -> Self {
        Self { inner }
    }

    /// The future it polls.
    pub(crate) fn inner(&self) -> &F {
        &self.inner
    }
}

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, ()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.project().inner;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => {
                drop_payload(payload);
                Poll::Ready(Err(()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::json;
    use crate::mask::DefaultMasking;

    fn build(view: RequestView<'_>) -> RequestContext {
        DefaultContextBuilder.build(&view, &DefaultMasking::default())
    }

    #[test]
    fn headers_cookies_query_and_userinfo_are_masked() {
        let headers: [(&str, &[u8]); 5] = [
            ("Authorization", b"Bearer abc.def"),
            ("x-api-key", b"k-1"),
            ("cookie", b"sessionid=s3cr3t; theme=dark"),
            ("x-request-id", b"r-7"),
            ("x-auth-token", b"t-1"),
        ];
        let c = build(RequestView::new("POST", "http://bob:pw@h:8080/a/b?token=q1&page=2").headers(&headers));
        let mask = crate::mask::DEFAULT_MASK_WITH;
        assert_eq!(c.url, format!("http://bob:{mask}@h:8080/a/b?token={mask}&page=2"));
        assert_eq!(c.path, "/a/b");
        assert_eq!(c.query, [("token".to_owned(), mask.to_owned()), ("page".to_owned(), "2".to_owned())]);
        let values: Vec<&str> = c.headers.iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(values, [mask, mask, mask, "r-7", mask]);
        assert_eq!(c.custom[0].name, "cookies");
        assert_eq!(c.custom[0].value, json!({"sessionid": mask, "theme": "dark"}));
    }

    #[test]
    fn always_masked_headers_stay_masked_without_key_rules() {
        let m = DefaultMasking::new(vec![], "XX".into());
        let headers: [(&str, &[u8]); 2] = [("authorization", b"Basic Ym9iOnB3"), ("cookie", b"sid=1")];
        let c = DefaultContextBuilder.build(&RequestView::new("GET", "http://h/").headers(&headers), &m);
        assert_eq!(c.headers[0].1, "XX");
        assert_eq!(c.headers[1].1, "XX");
        // Key rules are off: the cookie itself is kept in the cookie list.
        assert_eq!(c.custom[0].value, json!({"sid": "1"}));
    }

    #[test]
    fn json_and_form_bodies_are_parsed_and_masked_by_key() {
        let json: [(&str, &[u8]); 1] = [("content-type", b"application/json; charset=utf-8")];
        let body = br#"{"a":{"b":{"password":"p1","x":1}}}"#;
        let c = build(RequestView::new("POST", "http://h/").headers(&json).body(RequestBody::Captured(body)));
        assert_eq!(c.body, Some(json!({"a":{"b":{"password":"**************","x":1}}})));

        let form: [(&str, &[u8]); 1] = [("content-type", b"application/x-www-form-urlencoded")];
        let body = b"user=bob&pwd=p2&tag=a&tag=b";
        let c = build(RequestView::new("POST", "http://h/").headers(&form).body(RequestBody::Captured(body)));
        assert_eq!(c.body, Some(json!({"user":"bob","pwd":"**************","tag":["a","b"]})));

        let c = build(RequestView::new("POST", "http://h/").headers(&json).body(RequestBody::TooLarge { limit: 10 }));
        assert_eq!(c.body, Some(Value::String("<body over 10 bytes, not captured>".into())));
    }

    #[test]
    fn a_custom_builder_is_masked_again() {
        let mut c = RequestContext {
            url: "http://u:p@h/".into(),
            headers: vec![("Cookie".into(), "a=b".into())],
            query: vec![("api_key".into(), "k".into())],
            custom: vec![Variable { name: "user_token".into(), value: "t".into() }],
            ..Default::default()
        };
        enforce_masking(&DefaultMasking::default(), &mut c);
        let text = crate::json::to_string(&c).unwrap();
        assert!(!text.contains(":p@") && !text.contains("a=b") && !text.contains("\"k\"") && !text.contains("\"t\""));
    }

    /// A request known by its method and URL only.
    struct Fixed(&'static str, &'static str);

    impl RawRequest for Fixed {
        fn with_view(&self, f: &mut dyn FnMut(&RequestView<'_>)) {
            f(&RequestView::new(self.0, self.1))
        }
    }

    fn method_and_path() -> Option<(String, String)> {
        current_request().map(|s| s.describe())
    }

    #[test]
    fn the_scope_is_visible_only_while_polled() {
        let scope = RequestScope::new(Fixed("GET", "http://h/a?b=c"));
        assert!(current_request().is_none());
        let mut fut = std::pin::pin!(Scoped::new(scope.clone(), async { method_and_path() }));
        let waker = std::task::Waker::noop();
        let got = fut.as_mut().poll(&mut Context::from_waker(waker));
        assert_eq!(got, Poll::Ready(Some(("GET".to_owned(), "/a".to_owned()))));
        assert!(scope.recorded());
        assert!(current_request().is_none());
    }

    #[test]
    fn the_stack_walk_stops_where_the_request_is_polled() {
        let scope = RequestScope::new(Fixed("GET", "http://h/"));
        // The test harness's frames are above this one.
        let outside = crate::capture::raw_stack(0).len();
        let mut fut = std::pin::pin!(Scoped::new(scope, async { crate::capture::raw_stack(0).len() }));
        let Poll::Ready(inside) = fut.as_mut().poll(&mut Context::from_waker(std::task::Waker::noop())) else {
            unreachable!("the future is ready at once")
        };
        assert!(inside >= 1 && inside < outside, "{inside} frames inside the scope, {outside} outside");
        assert_eq!(stack_boundary(), 0, "the boundary is gone after the poll");
    }

    #[test]
    fn the_scope_follows_the_future_to_another_thread() {
        let scope = RequestScope::new(Fixed("POST", "http://h/hop"));
        let mut yielded = false;
        let task = std::future::poll_fn(move |cx| {
            if !yielded {
                yielded = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Poll::Ready(method_and_path().map(|(_, path)| path))
        });
        let mut fut = Box::pin(Scoped::new(scope, task));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        // Resumed on another thread, as a work-stealing executor may do.
        let got = std::thread::spawn(move || fut.as_mut().poll(&mut Context::from_waker(std::task::Waker::noop())))
            .join()
            .expect("poll on the other thread");
        assert_eq!(got, Poll::Ready(Some("/hop".to_owned())));
        assert!(current_request().is_none(), "nothing leaks onto the first thread");
    }
}
