//! Integrations, each behind its feature.
//!
//! Logging: [`tracing`] (feature `tracing`, a tracing-subscriber layer) and
//! [`log`] (feature `log`, a logger wrapping yours) keep breadcrumbs (and
//! `tracing` span fields) for every occurrence, and can record error
//! events as occurrences. [`anyhow`] (feature `anyhow`) stores an
//! `anyhow::Error`'s own backtrace.
//!
//! Web frameworks: [`axum`] (feature `axum`, a tower layer) and [`actix`]
//! (feature `actix`, an actix-web 4 middleware). Both do the same for each
//! request:
//! - keep its raw parts, from which the writer thread builds its masked
//!   context with the configured [`ContextBuilder`](crate::ContextBuilder)
//!   if something is recorded while it is served;
//! - serve the handler inside a scope, so that errors recorded by
//!   `record_exception!` or `#[track_exception]` and panics carry that context,
//!   across `.await` and thread hops;
//! - turn a handler panic into a 500 response, keeping the connection;
//! - record 5xx responses that nothing recorded yet, and 4xx responses too
//!   with [`Config::track_all`](crate::Config::track_all).
//!
//! Before [`init`](crate::init), they pass requests through untouched.

// The web frameworks' shared part is below; without either, it is unused.
#![cfg_attr(not(any(feature = "axum", feature = "actix")), allow(dead_code, unused_imports))]

use std::sync::Arc;

use crate::capture::{State, base_occurrence, with_state};
use crate::context::{RequestBody, RequestScope};
use crate::tracker::{Pending, Tracker};

#[cfg(feature = "actix")]
pub mod actix;
#[cfg(feature = "anyhow")]
pub mod anyhow;
#[cfg(feature = "axum")]
pub mod axum;
#[cfg(feature = "log")]
pub mod log;
#[cfg(feature = "tracing")]
pub mod tracing;

/// What an integration read of a request's body before the handler runs;
/// `B` is the framework's bytes.
pub(crate) enum Captured<B> {
    /// Not JSON nor a form, or the body failed: not read.
    No,
    /// The whole body.
    Whole(B),
    /// Past the limit (in bytes): not buffered.
    TooLarge(usize),
}

impl<B: AsRef<[u8]>> Captured<B> {
    /// The body as a [`RequestView`](crate::RequestView) shows it.
    pub(crate) fn view(&self) -> RequestBody<'_> {
        match self {
            Captured::No => RequestBody::NotCaptured,
            Captured::Whole(b) => RequestBody::Captured(b.as_ref()),
            Captured::TooLarge(limit) => RequestBody::TooLarge { limit: *limit },
        }
    }
}

/// Records a response status when it should be and nothing was recorded
/// while the request was served: 5xx always, 4xx with `track_all`.
///
/// `error` is the message of the framework error behind the response, if any.
pub(crate) fn record_response(
    t: &Tracker,
    scope: &Arc<RequestScope>,
    status: u16,
    reason: Option<&str>,
    error: Option<String>,
) {
    let tracked = status >= 500 || (status >= 400 && t.config.track_all);
    if !tracked || scope.recorded() {
        return;
    }
    with_state(State::Recording, || {
        let reason = reason.unwrap_or("");
        let message = match error {
            Some(e) => e,
            None => {
                let (method, route) = scope.describe();
                format!("{method} {route} returned {status} {reason}").trim_end().to_owned()
            }
        };
        let mut occurrence = base_occurrence(status_name(status, reason), message);
        // Recorded after the handler, outside the request's scope: what the
        // request logged is in its own ring, not the thread's.
        occurrence.breadcrumbs = scope.breadcrumbs();
        // The stack here is the server's, not the handler's: without frames,
        // the group is the status plus the route, which is what tells them apart.
        t.submit_pending(Pending::new(occurrence, Vec::new(), Some(scope.clone())));
    });
}

/// `404 Not Found` → `NotFound`, as the seed names HTTP exceptions.
fn status_name(status: u16, reason: &str) -> String {
    let name: String = reason.split(|c: char| !c.is_ascii_alphanumeric()).map(capitalize).collect();
    if name.is_empty() { format!("Http{status}") } else { name }
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + &chars.as_str().to_ascii_lowercase(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn status_names_read_like_exception_names() {
        assert_eq!(super::status_name(500, "Internal Server Error"), "InternalServerError");
        assert_eq!(super::status_name(404, "Not Found"), "NotFound");
        assert_eq!(super::status_name(418, "I'm a teapot"), "IMATeapot");
        assert_eq!(super::status_name(599, ""), "Http599");
    }
}
