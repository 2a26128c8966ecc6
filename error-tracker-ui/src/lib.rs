//! # error-tracker-ui
//!
//! The web UI of [error-tracker](error_tracker): the list of error groups,
//! each group's details, and actions to resolve, ignore, reopen or delete
//! them, plus a JSON API under `…/api/…`.
//!
//! The core is framework-agnostic: [`ErrorTrackerUi::handle`] takes a
//! [`UiRequest`] and returns a [`UiResponse`]. [`ErrorTrackerUi::service`]
//! wraps it as a tower `Service` for axum's `Router::nest_service` or plain
//! hyper, `actix::scope` (feature `actix`) as an actix-web `Scope`, and
//! [`serve`] runs it on a listener (that is what the bundled
//! `error-tracker-ui` binary does).
//!
//! Access is denied until a [`ViewPermission`] allows it. Before that, the
//! `Host` is checked (421 for a host the UI does not answer for, see
//! [`ErrorTrackerUi::allowed_host`]); after it, a `POST` whose `Origin`
//! names another host is refused (403). Every answer, refusals included,
//! carries the security headers, and every answer under `…/api/` is JSON.
//!
//! ```
//! use std::sync::Arc;
//! use error_tracker::{MemoryStore, Store};
//! use error_tracker_ui::{BasicAuth, ErrorTrackerUi, UiRequest};
//!
//! let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
//! let ui = ErrorTrackerUi::new(store)
//!     .prefix("/dev/error")
//!     .permission(BasicAuth::new("admin", "s3cret"));
//!
//! // Without credentials: 401 and a challenge.
//! let res = ui.handle(&UiRequest::new("GET", "/dev/error/"));
//! assert_eq!(res.status, 401);
//!
//! // With them: the list page.
//! let req = UiRequest::new("GET", "/dev/error/").with_header("authorization", "Basic YWRtaW46czNjcmV0");
//! let res = ui.handle(&req);
//! assert_eq!(res.status, 200);
//! assert_eq!(res.header("x-frame-options"), Some("DENY"));
//! ```

#![warn(missing_docs)]

use std::sync::Arc;

use error_tracker::{Config, StoreQuery};

#[cfg(feature = "actix")]
pub mod actix;
mod charts;
mod facets;
mod host;
mod permission;
mod request;
mod routes;
mod service;
mod source;
mod templates;
mod views;

pub use permission::{Access, AllowAll, AnyOf, BasicAuth, BearerToken, DenyAll, LocalhostOnly, ViewPermission};
pub use request::{UiRequest, UiResponse};
pub use service::{PeerAddr, UiService, serve};

/// The UI: a store to read, the URL prefix it is mounted at, and who may see it.
///
/// Cloning is cheap: clones share the store, the templates and the CSRF key.
#[derive(Clone)]
pub struct ErrorTrackerUi {
    store: Arc<dyn StoreQuery>,
    permission: Arc<dyn ViewPermission>,
    prefix: Arc<str>,
    page_size: u32,
    allowed_hosts: Arc<[String]>,
    /// Where source files are read for the failing line in context (canonical).
    source_root: Option<Arc<std::path::Path>>,
    /// The per-process key of the CSRF tokens, which are HMACs of the
    /// client's credentials under it (see `routes::csrf_token`).
    csrf_key: Arc<[u8; 32]>,
    templates: Arc<minijinja::Environment<'static>>,
}

impl std::fmt::Debug for ErrorTrackerUi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErrorTrackerUi").field("prefix", &self.prefix).field("page_size", &self.page_size).finish()
    }
}

/// The default prefix, as `APP_ERROR_URL_PREFIX`'s default.
pub const DEFAULT_PREFIX: &str = "/dev/error";

impl ErrorTrackerUi {
    /// A UI over `store`, at [`DEFAULT_PREFIX`], 10 groups a page, denying
    /// every request until [`permission`](Self::permission) is set.
    pub fn new(store: Arc<dyn StoreQuery>) -> Self {
        Self {
            store,
            permission: Arc::new(DenyAll),
            prefix: Arc::from(DEFAULT_PREFIX),
            page_size: 10,
            allowed_hosts: Arc::from([]),
            source_root: std::env::current_dir().ok().as_deref().and_then(source::canonical_root).map(Arc::from),
            csrf_key: Arc::new(random_key()),
            templates: Arc::new(templates::environment()),
        }
    }

    /// A UI over `store` with the prefix (`APP_ERROR_URL_PREFIX`) and page
    /// size (`EXCEPTION_APP_DEFAULT_LIST_SIZE`) of `config`.
    pub fn from_config(config: &Config, store: Arc<dyn StoreQuery>) -> Self {
        Self::new(store).prefix(config.get_url_prefix()).page_size(config.get_list_size())
    }

    /// A UI over the store of the tracker that [`error_tracker::init`]
    /// installed, with its configuration; `None` before `init`.
    pub fn from_tracker() -> Option<Self> {
        Some(Self::from_config(error_tracker::config()?, error_tracker::store()?))
    }

    /// The URL prefix the UI is mounted at (`/dev/error` by default). Links
    /// and redirects start with it; requests may come with or without it.
    pub fn prefix(mut self, prefix: &str) -> Self {
        let trimmed = prefix.trim().trim_end_matches('/');
        self.prefix = if trimmed.is_empty() || trimmed.starts_with('/') {
            Arc::from(trimmed)
        } else {
            Arc::from(format!("/{trimmed}"))
        };
        self
    }

    /// Groups per list page (at least 1, at most 500).
    pub fn page_size(mut self, n: u32) -> Self {
        self.page_size = n.clamp(1, 500);
        self
    }

    /// Who may see the UI.
    pub fn permission(mut self, permission: impl ViewPermission) -> Self {
        self.permission = Arc::new(permission);
        self
    }

    /// Adds a host name (`errors.example.com`, or with a port,
    /// `errors.example.com:8080`) that requests may name in their `Host`
    /// header, as the binary's `--allowed-host`. Without any, a UI whose
    /// permission trusts the client's address ([`LocalhostOnly`]) answers
    /// loopback hosts only (`localhost`, `127.0.0.0/8`, `[::1]`, any port);
    /// with some, every request must name a loopback host or one of them,
    /// whatever the permission. Others get 421 Misdirected Request.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use error_tracker::MemoryStore;
    /// use error_tracker_ui::{ErrorTrackerUi, LocalhostOnly, UiRequest};
    ///
    /// let ui = ErrorTrackerUi::new(Arc::new(MemoryStore::default())).permission(LocalhostOnly);
    /// let local = UiRequest::new("GET", "/dev/error/").with_peer("127.0.0.1:5000".parse().unwrap());
    /// assert_eq!(ui.handle(&local.clone().with_header("host", "localhost:8080")).status, 200);
    /// // A rebound name: the client is local, the page is not.
    /// assert_eq!(ui.handle(&local.clone().with_header("host", "attacker.example")).status, 421);
    /// let ui = ui.allowed_host("errors.internal");
    /// assert_eq!(ui.handle(&local.with_header("host", "errors.internal:8080")).status, 200);
    /// ```
    pub fn allowed_host(mut self, host: &str) -> Self {
        let host = host.trim().to_ascii_lowercase();
        if !host.is_empty() {
            let mut all = self.allowed_hosts.to_vec();
            all.push(host);
            self.allowed_hosts = Arc::from(all);
        }
        self
    }

    /// The directory that source files are read from, to show the failing
    /// line of each frame with a few lines around it: the workspace the
    /// application was built from. By default the current directory, where
    /// an application (or the binary run from its workspace) usually runs;
    /// `None` shows no source.
    ///
    /// Frames name their files as the compiler did (`src/db.rs`, relative to
    /// the crate's workspace, or absolute). Only `.rs` files whose real path
    /// lies under this directory are read, at most 2 MiB each, and only the
    /// lines shown: a stored path with `..` or through a symbolic link
    /// cannot reach other files. A directory that does not exist, or `/`, is
    /// `None`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use error_tracker::MemoryStore;
    /// use error_tracker_ui::ErrorTrackerUi;
    ///
    /// let ui = ErrorTrackerUi::new(Arc::new(MemoryStore::default())).source_root(Some("."));
    /// assert!(ui.source_dir().is_some());
    /// let ui = ui.source_root(None::<&str>);
    /// assert!(ui.source_dir().is_none());
    /// ```
    pub fn source_root(mut self, root: Option<impl AsRef<std::path::Path>>) -> Self {
        self.source_root = root.and_then(|r| source::canonical_root(r.as_ref())).map(Arc::from);
        self
    }

    /// The source root in use, canonical (see [`source_root`](Self::source_root)).
    pub fn source_dir(&self) -> Option<&std::path::Path> {
        self.source_root.as_deref()
    }

    /// The hosts added with [`allowed_host`](Self::allowed_host), in lower case.
    pub fn allowed_hosts(&self) -> &[String] {
        &self.allowed_hosts
    }

    /// The prefix in use.
    pub fn url_prefix(&self) -> &str {
        &self.prefix
    }

    /// Answers one request: checks the host, the permission and the origin,
    /// routes, renders, and adds the security headers. Store calls block:
    /// call it off the async executor (the tower service does).
    pub fn handle(&self, request: &UiRequest) -> UiResponse {
        match self.admit(request) {
            Ok(()) => self.respond(request),
            Err(refusal) => self.finish(refusal),
        }
    }

    /// The checks that need no body: the `Host`, the permission, and the
    /// `Origin` of a `POST`. Adapters call it before reading the body, so
    /// that an unauthenticated client cannot make the server read one.
    pub(crate) fn admit(&self, request: &UiRequest) -> Result<(), UiResponse> {
        let api = self.is_api(&request.path);
        let host = request.header("host");
        if !host::allowed(host, &self.allowed_hosts, self.permission.trusts_client_address()) {
            return Err(refusal(api, 421, "421 Misdirected Request: this server does not answer for this host name."));
        }
        match self.permission.check(request) {
            Access::Granted => {}
            Access::Unauthorized { challenge } => {
                let mut r = refusal(api, 401, "401 Unauthorized: credentials are required to see the error tracker.");
                r.headers.push(("www-authenticate", challenge));
                return Err(r);
            }
            Access::Forbidden => {
                return Err(refusal(api, 403, "403 Forbidden: this client may not see the error tracker."));
            }
        }
        let foreign = request.header("origin").is_some_and(|origin| !host::origin_matches(origin, host));
        if request.method.eq_ignore_ascii_case("POST") && foreign {
            return Err(refusal(api, 403, "403 Forbidden: the request comes from another site."));
        }
        Ok(())
    }

    /// Routes an admitted request and adds the security headers.
    pub(crate) fn respond(&self, request: &UiRequest) -> UiResponse {
        self.finish(self.route(request))
    }

    /// Adds the security headers: every answer the UI writes goes through here.
    pub(crate) fn finish(&self, mut response: UiResponse) -> UiResponse {
        add_security_headers(&mut response);
        response
    }

    /// A refusal written by an adapter (a body too large, a head too large):
    /// JSON under `…/api/`, text elsewhere, with the security headers.
    pub(crate) fn refuse(&self, path: &str, status: u16, text: &str) -> UiResponse {
        self.finish(refusal(self.is_api(path), status, text))
    }

    /// The UI as a tower `Service`, for axum's `Router::nest_service` or hyper.
    pub fn service(&self) -> UiService {
        UiService::new(self.clone())
    }
}

/// A refusal: `{"error": text}` for the JSON API, the text otherwise.
fn refusal(api: bool, status: u16, text: &str) -> UiResponse {
    if api {
        #[derive(serde::Serialize)]
        struct ApiError<'a> {
            error: &'a str,
        }
        UiResponse::json(status, &ApiError { error: text })
    } else {
        UiResponse::text(status, &format!("{text}\n"))
    }
}

/// The content security policy: no script at all, styles and images from
/// the UI itself only (and `data:` for the empty favicon).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub(crate) fn add_security_headers(r: &mut UiResponse) {
    r.headers.push(("content-security-policy", CONTENT_SECURITY_POLICY.to_owned()));
    r.headers.push(("x-frame-options", "DENY".to_owned()));
    r.headers.push(("x-content-type-options", "nosniff".to_owned()));
    // Not `no-referrer`: under it browsers send `Origin: null` on the UI's
    // own form posts, which the Origin check must refuse. `same-origin`
    // still sends nothing to other sites.
    r.headers.push(("referrer-policy", "same-origin".to_owned()));
    if r.header("cache-control").is_none() {
        // Pages hold production data: keep them out of shared and browser caches.
        r.headers.push(("cache-control", "no-store".to_owned()));
    }
}

/// 32 random bytes from the OS generator.
fn random_key() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS generator answered: fall back on std's per-process random
        // hash keys mixed with the time, rather than on a fixed token.
        use std::hash::{BuildHasher, Hasher};
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        for chunk in bytes.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(now.as_nanos());
            chunk.copy_from_slice(&h.finish().to_le_bytes());
        }
    }
    bytes
}
