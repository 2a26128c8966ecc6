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
//! Access is denied until a [`ViewPermission`] allows it.
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

use error_tracker::{Config, Store};

#[cfg(feature = "actix")]
pub mod actix;
mod charts;
mod permission;
mod request;
mod routes;
mod service;
mod templates;
mod views;

pub use permission::{Access, AllowAll, AnyOf, BasicAuth, BearerToken, DenyAll, LocalhostOnly, ViewPermission};
pub use request::{UiRequest, UiResponse};
pub use service::{PeerAddr, UiService, serve};

/// The UI: a store to read, the URL prefix it is mounted at, and who may see it.
///
/// Cloning is cheap: clones share the store, the templates and the CSRF token.
#[derive(Clone)]
pub struct ErrorTrackerUi {
    store: Arc<dyn Store>,
    permission: Arc<dyn ViewPermission>,
    prefix: Arc<str>,
    page_size: u32,
    csrf_token: Arc<str>,
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
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            permission: Arc::new(DenyAll),
            prefix: Arc::from(DEFAULT_PREFIX),
            page_size: 10,
            csrf_token: Arc::from(random_token()),
            templates: Arc::new(templates::environment()),
        }
    }

    /// A UI over `store` with the prefix (`APP_ERROR_URL_PREFIX`) and page
    /// size (`EXCEPTION_APP_DEFAULT_LIST_SIZE`) of `config`.
    pub fn from_config(config: &Config, store: Arc<dyn Store>) -> Self {
        Self::new(store).prefix(config.url_prefix()).page_size(config.page_size())
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

    /// The prefix in use.
    pub fn url_prefix(&self) -> &str {
        &self.prefix
    }

    /// Answers one request: checks the permission, routes, renders, and
    /// adds the security headers. Store calls block: call it off the async
    /// executor (the tower service does).
    pub fn handle(&self, request: &UiRequest) -> UiResponse {
        let mut response = match self.permission.check(request) {
            Access::Granted => self.route(request),
            Access::Unauthorized { challenge } => {
                let mut r =
                    UiResponse::text(401, "401 Unauthorized: credentials are required to see the error tracker.\n");
                r.headers.push(("www-authenticate", challenge));
                r
            }
            Access::Forbidden => UiResponse::text(403, "403 Forbidden: this client may not see the error tracker.\n"),
        };
        add_security_headers(&mut response);
        response
    }

    /// The UI as a tower `Service`, for axum's `Router::nest_service` or hyper.
    pub fn service(&self) -> UiService {
        UiService::new(self.clone())
    }
}

/// The content security policy: no script at all, styles and images from
/// the UI itself only (and `data:` for the empty favicon).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn add_security_headers(r: &mut UiResponse) {
    r.headers.push(("content-security-policy", CONTENT_SECURITY_POLICY.to_owned()));
    r.headers.push(("x-frame-options", "DENY".to_owned()));
    r.headers.push(("x-content-type-options", "nosniff".to_owned()));
    r.headers.push(("referrer-policy", "no-referrer".to_owned()));
    if r.header("cache-control").is_none() {
        // Pages hold production data: keep them out of shared and browser caches.
        r.headers.push(("cache-control", "no-store".to_owned()));
    }
}

/// 32 random bytes in hex, from the OS generator.
fn random_token() -> String {
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
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
