//! The one HTTP client of the webhook and ticketing integrations: ureq.
//!
//! Delivery runs on each channel's own worker thread, so a small blocking
//! client is all that is needed: no async runtime is pulled into the host
//! application for the sake of a few POSTs.

use std::time::Duration;

use serde::Serialize;

use crate::json::Value;

use super::{NotifyError, peer_of};

/// The longest response body kept in an error message, in characters.
const MAX_ERROR_BODY: usize = 300;
/// The timeout of a request when none is set (`APP_ERROR_HTTP_TIMEOUT_SECS`).
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The header that carries [`Notification::id`](super::Notification::id) on
/// every request, the same on every try, so that a receiver can drop copies
/// (the name Stripe and the IETF draft `draft-ietf-httpapi-idempotency-key-header` use).
pub(crate) const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// An HTTP method the integrations use.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Method {
    Post,
    // Only GitHub reopens issues with PATCH.
    #[cfg_attr(not(feature = "ticketing"), allow(dead_code))]
    Patch,
}

/// A blocking JSON client with one overall timeout per request; the
/// connection must be up within half of it, so that a peer that cannot be
/// reached (retried) is told apart from one that got the request and did
/// not answer (not retried: [`NotifyError::Unconfirmed`]).
#[derive(Debug, Clone)]
pub(crate) struct Client {
    agent: ureq::Agent,
}

impl Client {
    pub(crate) fn new(timeout: Duration) -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .timeout_connect(Some(timeout / 2))
            // Statuses are read, not raised, so a 4xx/5xx body lands in the error.
            .http_status_as_error(false)
            .user_agent(concat!("error-tracker/", env!("CARGO_PKG_VERSION")))
            .build();
        Client { agent: ureq::Agent::new_with_config(config) }
    }

    /// Sends `body` as JSON and returns the parsed JSON answer (`Null` when
    /// the answer is empty or not JSON). A status other than 2xx is an error.
    pub(crate) fn send_json(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        idempotency_key: &str,
        body: &(impl Serialize + ?Sized),
    ) -> Result<Value, NotifyError> {
        let peer = peer_of(url);
        let transport = |e: ureq::Error| match e {
            // Before the request left: nothing was delivered, a retry is safe.
            ureq::Error::Timeout(ureq::Timeout::Resolve | ureq::Timeout::Connect)
            | ureq::Error::HostNotFound
            | ureq::Error::ConnectionFailed => NotifyError::Transport { peer: peer.clone(), reason: e.to_string() },
            ureq::Error::Timeout(_) => NotifyError::Unconfirmed { peer: peer.clone(), reason: e.to_string() },
            e => NotifyError::Transport { peer: peer.clone(), reason: e.to_string() },
        };
        let mut req = match method {
            Method::Post => self.agent.post(url),
            Method::Patch => self.agent.patch(url),
        };
        req = req.header("Content-Type", "application/json").header("Accept", "application/json");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if !idempotency_key.is_empty() {
            req = req.header(IDEMPOTENCY_KEY, idempotency_key);
        }
        let bytes = crate::json::to_string(body).map(String::into_bytes).unwrap_or_default();
        let mut resp = req.send(&bytes[..]).map_err(transport)?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        if !(200..300).contains(&status) {
            let body: String = text.chars().take(MAX_ERROR_BODY).collect();
            return Err(NotifyError::Status { peer, status, body });
        }
        Ok(text.parse().unwrap_or(Value::Null))
    }
}

/// Standard base64 (with padding), for HTTP basic authentication.
#[cfg(feature = "ticketing")]
pub(crate) fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(all(test, feature = "ticketing"))]
mod tests {
    #[test]
    fn base64_matches_the_rfc_vectors() {
        let cases =
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE=")];
        for (plain, encoded) in cases {
            assert_eq!(super::base64(plain.as_bytes()), encoded);
        }
        assert_eq!(super::base64(b"foobar"), "Zm9vYmFy");
    }
}
