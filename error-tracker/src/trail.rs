//! What an occurrence gets of what the program did before it: the
//! breadcrumbs of the request being served (else of the failing thread),
//! and the `tracing` spans it was in.
//!
//! The `tracing` and `log` integrations [`keep`] events here; the capture
//! path [`attach`]es them to every occurrence. Without those integrations
//! nothing is kept and attaching costs one atomic load.
//!
//! Which ring an event goes to: while a web integration serves a request,
//! the request's own (made on its first breadcrumb), so that an error in it
//! shows what this request did, not what other requests on the same worker
//! thread did in between; elsewhere, the thread's.

// Filled by the `tracing` and `log` integrations; the `log` one uses only
// part of it, and without either nothing is kept (attaching costs a load).
#![cfg_attr(not(feature = "tracing"), allow(dead_code))]

use std::cell::RefCell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::breadcrumbs::{DEFAULT_MAX_BREADCRUMBS, Fields, Ring, Target};
use crate::occurrence::{Occurrence, SpanRecord};

/// Whether an integration keeps breadcrumbs or spans.
static ENABLED: AtomicBool = AtomicBool::new(false);
/// How many breadcrumbs a new ring keeps.
static CAPACITY: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_BREADCRUMBS);
/// The spans entered on this thread, outermost first: set by the `tracing`
/// layer, which alone can read its subscriber's span registry.
static SPANS: OnceLock<fn() -> Vec<SpanRecord>> = OnceLock::new();

thread_local! {
    static THREAD: RefCell<Option<Ring>> = const { RefCell::new(None) };
}

/// An integration keeps breadcrumbs, up to `capacity` per thread and per
/// request (for the rings made from now on).
pub(crate) fn enable(capacity: usize) {
    CAPACITY.store(capacity, Ordering::Relaxed);
    ENABLED.store(true, Ordering::Relaxed);
}

/// The `tracing` layer gives the spans of the current thread.
pub(crate) fn set_span_source(spans: fn() -> Vec<SpanRecord>) {
    let _ = SPANS.set(spans);
    ENABLED.store(true, Ordering::Relaxed);
}

/// Keeps one event, filled by `fill`, in the request's ring or else the
/// thread's. Never blocks: a ring in use (a breadcrumb logged from a user
/// `Debug` while another is filled) drops the event.
pub(crate) fn keep(level: &'static str, target: Target<'_>, fill: impl FnOnce(&mut Fields)) {
    let capacity = CAPACITY.load(Ordering::Relaxed);
    let mut fill = Some(fill);
    let mut run = |ring: &mut Ring| {
        if let Some(fill) = fill.take() {
            ring.push(level, target, fill);
        }
    };
    if crate::context::with_request_ring(Some(capacity), &mut run).is_some() {
        return;
    }
    let _ = THREAD.try_with(|t| {
        if let Ok(mut t) = t.try_borrow_mut() {
            run(t.get_or_insert_with(|| Ring::new(capacity)));
        }
    });
}

/// Adds the breadcrumbs and spans to an occurrence being captured.
pub(crate) fn attach(o: &mut Occurrence) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    o.breadcrumbs = match crate::context::with_request_ring(None, |ring| ring.breadcrumbs()) {
        Some(in_request) => in_request.unwrap_or_default(),
        None => THREAD
            .try_with(|t| t.try_borrow().ok().and_then(|t| t.as_ref().map(Ring::breadcrumbs)))
            .ok()
            .flatten()
            .unwrap_or_default(),
    };
    if let Some(spans) = SPANS.get() {
        o.spans = crate::reentry::guarded(spans).unwrap_or_default();
    }
}

/// Whether the current thread kept anything (for tests).
#[cfg(test)]
pub(crate) fn thread_has_breadcrumbs() -> bool {
    THREAD.with(|t| t.borrow().as_ref().is_some_and(|r| !r.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::breadcrumbs::FieldValue;
    use crate::mask::DefaultMasking;

    #[test]
    fn outside_a_request_the_thread_keeps_them() {
        let m = DefaultMasking::default();
        enable(DEFAULT_MAX_BREADCRUMBS);
        keep("INFO", Target::Static("app::orders"), |f| {
            f.message(format_args!("loading"));
            f.field(&m, "id", FieldValue::I64(17));
        });
        assert!(thread_has_breadcrumbs());
        let mut o = crate::capture::base_occurrence("E".into(), "m".into());
        attach(&mut o);
        let last = o.breadcrumbs.last().expect("a breadcrumb");
        assert_eq!((last.target.as_str(), last.message.as_str()), ("app::orders", "loading"));
        assert_eq!(last.fields[0].value, crate::json::Value::from(17i64));
        // Another thread has its own ring.
        let other = std::thread::spawn(thread_has_breadcrumbs).join().unwrap();
        assert!(!other);
    }
}
