//! Who may see the UI: the [`ViewPermission`] trait and its implementations.
//!
//! Access is denied unless a permission allows it: [`ErrorTrackerUi`](crate::ErrorTrackerUi)
//! starts with [`DenyAll`].

use base64::Engine;

use crate::request::UiRequest;

/// The answer of a [`ViewPermission`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Serve the request.
    Granted,
    /// 401: credentials are missing or wrong; the challenge goes in `WWW-Authenticate`.
    Unauthorized {
        /// The `WWW-Authenticate` value, e.g. `Basic realm="error-tracker"`.
        challenge: String,
    },
    /// 403: this client may not see the UI at all.
    Forbidden,
}

/// Decides whether a request may see the UI (pages, API and actions alike).
///
/// ```
/// use error_tracker_ui::{Access, UiRequest, ViewPermission};
///
/// /// Only requests carrying a header set by the app's own auth proxy.
/// struct FromProxy;
/// impl ViewPermission for FromProxy {
///     fn check(&self, request: &UiRequest) -> Access {
///         match request.header("x-authenticated-user") {
///             Some(_) => Access::Granted,
///             None => Access::Forbidden,
///         }
///     }
/// }
/// let req = UiRequest::new("GET", "/dev/error/").with_header("X-Authenticated-User", "ann");
/// assert_eq!(FromProxy.check(&req), Access::Granted);
/// ```
pub trait ViewPermission: Send + Sync + 'static {
    /// Whether `request` may be served.
    fn check(&self, request: &UiRequest) -> Access;

    /// Whether a request that [`check`](Self::check) granted may also change
    /// state (resolve, ignore, reopen, delete). Yes by default;
    /// [`BearerToken`] says no unless [`BearerToken::allow_changes`] was set.
    fn may_change(&self, request: &UiRequest) -> bool {
        let _ = request;
        true
    }

    /// Whether access is granted on where the client connects from rather
    /// than on credentials it carries ([`LocalhostOnly`]). The UI then also
    /// requires a loopback `Host` (or one set with
    /// [`ErrorTrackerUi::allowed_host`](crate::ErrorTrackerUi::allowed_host)):
    /// otherwise a page of another site whose name is rebound to 127.0.0.1
    /// would be served as a local client. No by default.
    fn trusts_client_address(&self) -> bool {
        false
    }
}

/// Denies everything with a 403: the default, until a permission is configured.
#[derive(Debug, Clone, Copy, Default)]
pub struct DenyAll;

impl ViewPermission for DenyAll {
    fn check(&self, _: &UiRequest) -> Access {
        Access::Forbidden
    }
}

/// Allows everyone. Only for a UI that something else already protects.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl ViewPermission for AllowAll {
    fn check(&self, _: &UiRequest) -> Access {
        Access::Granted
    }
}

/// Allows clients connecting from a loopback address (127.0.0.0/8, ::1).
/// A request whose peer address is unknown is denied.
///
/// The UI also requires such a request to name a loopback `Host`
/// (`localhost`, `127.0.0.0/8`, `[::1]`, with or without a port) or a host
/// set with [`ErrorTrackerUi::allowed_host`](crate::ErrorTrackerUi::allowed_host),
/// and answers others with 421: see [`ViewPermission::trusts_client_address`].
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalhostOnly;

impl ViewPermission for LocalhostOnly {
    fn check(&self, request: &UiRequest) -> Access {
        match request.peer {
            Some(peer) if is_loopback(peer.ip()) => Access::Granted,
            _ => Access::Forbidden,
        }
    }

    fn trusts_client_address(&self) -> bool {
        true
    }
}

fn is_loopback(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        v4 => v4.is_loopback(),
    }
}

/// HTTP Basic authentication with one user name and password.
///
/// An empty user name or password grants nothing: every request gets 401.
///
/// ```
/// use error_tracker_ui::{Access, BasicAuth, UiRequest, ViewPermission};
/// let auth = BasicAuth::new("admin", "s3cret");
/// // "admin:s3cret" in base64
/// let req = UiRequest::new("GET", "/").with_header("authorization", "Basic YWRtaW46czNjcmV0");
/// assert_eq!(auth.check(&req), Access::Granted);
/// assert!(matches!(auth.check(&UiRequest::new("GET", "/")), Access::Unauthorized { .. }));
/// ```
#[derive(Clone)]
pub struct BasicAuth {
    user: String,
    password: String,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicAuth").field("user", &self.user).field("password", &"**************").finish()
    }
}

impl BasicAuth {
    /// Accepts exactly this user name and password.
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        Self { user: user.into(), password: password.into() }
    }
}

impl ViewPermission for BasicAuth {
    fn check(&self, request: &UiRequest) -> Access {
        let given = request
            .header("authorization")
            .and_then(|h| strip_scheme(h, "basic"))
            .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok())
            .and_then(|raw| String::from_utf8(raw).ok());
        let configured = !self.user.is_empty() && !self.password.is_empty();
        let ok = configured
            && given.as_deref().and_then(|s| s.split_once(':')).is_some_and(|(u, p)| {
                // Compare both, always, so that the time taken says nothing about which was wrong.
                let user_ok = constant_time_eq(u.as_bytes(), self.user.as_bytes());
                let pass_ok = constant_time_eq(p.as_bytes(), self.password.as_bytes());
                user_ok & pass_ok
            });
        if ok {
            Access::Granted
        } else {
            Access::Unauthorized { challenge: "Basic realm=\"error-tracker\", charset=\"UTF-8\"".to_owned() }
        }
    }
}

/// A bearer token in the `Authorization` header (`Authorization: Bearer <token>`),
/// for scripts and the JSON API.
///
/// The token reads; it changes state (resolve, ignore, reopen, delete) only
/// after [`allow_changes`](Self::allow_changes). An empty token grants nothing.
///
/// ```
/// use error_tracker_ui::{Access, BearerToken, UiRequest, ViewPermission};
/// let auth = BearerToken::new("t0ken");
/// let req = UiRequest::new("GET", "/api/groups").with_header("authorization", "Bearer t0ken");
/// assert_eq!(auth.check(&req), Access::Granted);
/// assert!(!auth.may_change(&req));
/// assert!(auth.allow_changes(true).may_change(&req));
/// ```
#[derive(Clone)]
pub struct BearerToken {
    token: String,
    changes: bool,
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerToken").finish_non_exhaustive()
    }
}

impl BearerToken {
    /// Accepts exactly this token, for reading.
    pub fn new(token: impl Into<String>) -> Self {
        Self { token: token.into(), changes: false }
    }

    /// Whether the token may also change state (no by default): a token
    /// given to a monitoring script should not be able to delete groups.
    pub fn allow_changes(mut self, yes: bool) -> Self {
        self.changes = yes;
        self
    }

    fn matches(&self, request: &UiRequest) -> bool {
        request
            .header("authorization")
            .and_then(|h| strip_scheme(h, "bearer"))
            .is_some_and(|t| !self.token.is_empty() && constant_time_eq(t.trim().as_bytes(), self.token.as_bytes()))
    }
}

impl ViewPermission for BearerToken {
    fn may_change(&self, request: &UiRequest) -> bool {
        self.changes && self.matches(request)
    }

    fn check(&self, request: &UiRequest) -> Access {
        if self.matches(request) {
            Access::Granted
        } else {
            Access::Unauthorized { challenge: "Bearer realm=\"error-tracker\"".to_owned() }
        }
    }
}

/// Allows a request that any of the permissions allows; otherwise answers
/// as the first one that asked for credentials (so the browser gets a challenge).
///
/// ```
/// use error_tracker_ui::{AnyOf, BasicAuth, BearerToken};
/// let auth = AnyOf::new().or(BasicAuth::new("admin", "pw")).or(BearerToken::new("t0ken"));
/// ```
#[derive(Default)]
pub struct AnyOf {
    all: Vec<Box<dyn ViewPermission>>,
}

impl std::fmt::Debug for AnyOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnyOf").field("permissions", &self.all.len()).finish()
    }
}

impl AnyOf {
    /// No permission yet: denies everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a permission.
    pub fn or(mut self, p: impl ViewPermission) -> Self {
        self.all.push(Box::new(p));
        self
    }
}

impl ViewPermission for AnyOf {
    fn check(&self, request: &UiRequest) -> Access {
        let mut answer = Access::Forbidden;
        for p in &self.all {
            match p.check(request) {
                Access::Granted => return Access::Granted,
                a @ Access::Unauthorized { .. } if answer == Access::Forbidden => answer = a,
                _ => {}
            }
        }
        answer
    }

    /// A change is allowed when a permission that grants the request allows it.
    fn may_change(&self, request: &UiRequest) -> bool {
        self.all.iter().any(|p| p.check(request) == Access::Granted && p.may_change(request))
    }

    fn trusts_client_address(&self) -> bool {
        self.all.iter().any(|p| p.trusts_client_address())
    }
}

/// The credentials after `scheme ` (scheme compared case-insensitively).
fn strip_scheme<'a>(header: &'a str, scheme: &str) -> Option<&'a str> {
    let (s, rest) = header.trim_start().split_once(' ')?;
    s.eq_ignore_ascii_case(scheme).then_some(rest)
}

/// Compares without stopping at the first difference.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i % b.len().max(1)).copied().unwrap_or(0));
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_by_default_and_credentials() {
        let req = UiRequest::new("GET", "/");
        assert_eq!(DenyAll.check(&req), Access::Forbidden);
        assert_eq!(LocalhostOnly.check(&req), Access::Forbidden);
        assert_eq!(LocalhostOnly.check(&req.clone().with_peer("127.0.0.1:9".parse().unwrap())), Access::Granted);
        assert_eq!(LocalhostOnly.check(&req.clone().with_peer("[::1]:9".parse().unwrap())), Access::Granted);
        assert_eq!(LocalhostOnly.check(&req.clone().with_peer("10.0.0.1:9".parse().unwrap())), Access::Forbidden);
        let basic = BasicAuth::new("admin", "pw");
        let wrong = req.clone().with_header("authorization", "Basic YWRtaW46cHg="); // admin:px
        assert!(matches!(basic.check(&wrong), Access::Unauthorized { .. }));
        let right = req.clone().with_header("authorization", "basic YWRtaW46cHc="); // admin:pw
        assert_eq!(basic.check(&right), Access::Granted);
        assert!(matches!(
            BearerToken::new("").check(&req.with_header("authorization", "Bearer ")),
            Access::Unauthorized { .. }
        ));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
