//! The capture path: what runs on the failing thread.
//!
//! It must stay cheap and never block on I/O: it renders the message and the
//! extra values (masked), walks the stack without symbolizing it, and hands
//! the result to the writer through a bounded queue.

use std::error::Error;
use std::fmt;

use crate::__private::RecordedAt;
use crate::context::current_request;
use crate::mask::render::bounded_format;
use crate::occurrence::{CaptureSite, EventId, Occurrence, PanicInfo, Variable};
use crate::timestamp::Timestamp;
use crate::tracker::{Pending, Tracker};

/// The deepest stack walked, in frames.
const MAX_STACK_FRAMES: usize = 128;
/// The longest `source()` chain kept.
const MAX_SOURCES: usize = 32;

// The re-entrancy guard lives in a leaf of its own (`reentry`), which
// masking, the request context and the notifiers use without importing the
// capture path; these names stay here for the callers that use them so.
pub(crate) use crate::reentry::{State, guarded, state, with_state};

/// The instruction addresses of the current stack, innermost first, unresolved.
///
/// `from` is the address of a local of the frame that captures (the user's
/// fn that called `record_exception!`, or a tracked fn's own frame), or 0:
/// the frames under it, the tracker's own, are left out, whether or not the
/// binary has the symbols to name them.
///
/// While a web integration serves a request, the walk stops at the frame
/// that polls the request's future: the frames above it are the server's
/// (runtime, HTTP, routing), the same for every request, and walking them
/// would be most of the cost of the capture.
pub(crate) fn raw_stack(from: usize) -> Vec<usize> {
    let boundary = crate::context::stack_boundary();
    let mut below = false;
    let mut ips = Vec::with_capacity(48);
    let mut capturing = None;
    let mut walk = |frame: &backtrace::Frame| {
        // `sp` is the frame's stack pointer, under its own locals; 0 where
        // the platform has none.
        let sp = frame.sp() as usize;
        // The capturing frame and the frames it called are those at or
        // under its local, and it is the last of them.
        if from != 0 && sp != 0 {
            if sp <= from {
                capturing = Some(frame.ip() as usize);
                return true;
            }
            ips.extend(capturing.take());
        }
        // The walk stops when it crosses the boundary upward, not merely
        // when a frame is above it: code that switched to another stack
        // (`stacker`, coroutines) may run at higher addresses.
        if boundary != 0 && sp != 0 {
            if sp <= boundary {
                below = true;
            } else if below {
                return false;
            }
        }
        ips.push(frame.ip() as usize);
        ips.len() < MAX_STACK_FRAMES
    };
    // Not `backtrace::trace`: its lock is also held by `backtrace::resolve`,
    // so every failing thread would wait while the writer symbolizes (tens
    // of milliseconds for the first, DWARF-decompressing, call). The lock
    // exists for Windows' dbghelp, which is not thread-safe; elsewhere the
    // walk is `_Unwind_Backtrace`, which shares nothing with the resolver.
    #[cfg(not(windows))]
    // SAFETY: on this backend the walk touches no state of the crate's
    // (see above); the callback only reads the frame.
    unsafe {
        backtrace::trace_unsynchronized(&mut walk);
    }
    #[cfg(windows)]
    backtrace::trace(&mut walk);
    ips.extend(capturing);
    ips
}

/// Displays a user value into a bounded string; a panicking impl gives the
/// render-error marker.
fn display(v: &dyn fmt::Display) -> String {
    guarded(|| bounded_format(format_args!("{v}"))).unwrap_or_else(|| crate::mask::RENDER_ERROR.to_owned())
}

/// A new occurrence with the context of the current thread and nothing else:
/// the writer adds the id text, the process's host, pid and release, and
/// the request's context (see [`Pending`]).
pub(crate) fn base_occurrence(exception_name: String, message: String) -> Occurrence {
    let mut o = Occurrence {
        id: String::new(),
        exception_name,
        message,
        sources: Vec::new(),
        backtrace: Vec::new(),
        thread: std::thread::current().name().map(str::to_owned),
        timestamp: Timestamp::now(),
        host: String::new(),
        pid: 0,
        release: None,
        panic: None,
        frames: Vec::new(),
        request: None,
        extra: Vec::new(),
        site: None,
        breadcrumbs: Vec::new(),
        spans: Vec::new(),
        error_backtrace: Vec::new(),
    };
    // What the request (or else the thread) logged, and the spans it is in.
    crate::trail::attach(&mut o);
    o
}

/// Records an error: `Display`, the `source()` chain, the stack, the extras.
pub(crate) fn capture_error(
    t: &Tracker,
    type_name: &'static str,
    err: &(dyn Error + '_),
    at: &RecordedAt,
    extra: Vec<Variable>,
) -> EventId {
    let p = pending_error(type_name, err, at.frame);
    submit_recorded(t, p, at, extra)
}

/// Records a value that is only `Debug`: its `Debug` text is the message.
pub(crate) fn capture_debug(
    t: &Tracker,
    type_name: &'static str,
    message: String,
    at: &RecordedAt,
    extra: Vec<Variable>,
) -> EventId {
    let p = pending_message(type_name, message, at.frame);
    submit_recorded(t, p, at, extra)
}

/// Records an `anyhow::Error` as [`capture_error`] does, with the
/// backtrace it captured where it was created, if any.
#[cfg(feature = "anyhow")]
pub(crate) fn capture_anyhow(t: &Tracker, err: &anyhow::Error, at: &RecordedAt, extra: Vec<Variable>) -> EventId {
    let p = with_state(State::Recording, || pending_anyhow(t, err, at.frame));
    submit_recorded(t, p, at, extra)
}

/// [`pending_error`] for an `anyhow::Error`, with the backtrace it captured
/// where it was created, if any. Runs in the recording state.
#[cfg(feature = "anyhow")]
pub(crate) fn pending_anyhow(t: &Tracker, err: &anyhow::Error, from: usize) -> Pending {
    let mut p = pending_error(std::any::type_name::<anyhow::Error>(), err.as_ref(), from);
    p.occurrence.error_backtrace =
        guarded(|| crate::integrations::anyhow::frames_of(err.backtrace(), &t.in_app_prefixes)).unwrap_or_default();
    p
}

fn submit_recorded(t: &Tracker, mut p: Pending, at: &RecordedAt, extra: Vec<Variable>) -> EventId {
    p.occurrence.extra = extra;
    p.occurrence.site = Some(at.into());
    p.slot = at.admitted.slot();
    t.submit_pending(p)
}

/// Captures an error into an occurrence without submitting it: a tracked
/// frame adds its snapshot first (see `frames`). `from`: see [`raw_stack`].
pub(crate) fn pending_error(type_name: &'static str, err: &(dyn Error + '_), from: usize) -> Pending {
    with_state(State::Recording, || {
        let mut o = base_occurrence(type_name.to_owned(), display(&err));
        // `source()` is user code like `Display`: a panic in it ends the
        // chain where it is, and the occurrence is recorded with the rest.
        let mut next = guarded(|| err.source()).flatten();
        while let Some(src) = next {
            if o.sources.len() >= MAX_SOURCES {
                break;
            }
            o.sources.push(display(&src));
            next = guarded(|| src.source()).flatten();
        }
        Pending::new(o, raw_stack(from), current_request())
    })
}

/// Like [`pending_error`], for a value that is only `Debug` (or not even that).
pub(crate) fn pending_message(type_name: &'static str, message: String, from: usize) -> Pending {
    with_state(State::Recording, || {
        let o = base_occurrence(type_name.to_owned(), message);
        Pending::new(o, raw_stack(from), current_request())
    })
}

/// Builds the occurrence of a panic, from the panic hook; `hook_frame` is
/// the address of a local of the hook's frame: that frame and those under
/// it are the tracker's, and left out.
pub(crate) fn panic_occurrence(info: &std::panic::PanicHookInfo<'_>, hook_frame: usize) -> Pending {
    let payload = info.payload();
    let message = if let Some(s) = payload.downcast_ref::<&str>() {
        crate::mask::truncate_string(s)
    } else if let Some(s) = payload.downcast_ref::<String>() {
        crate::mask::truncate_string(s)
    } else {
        "<non-string panic payload>".to_owned()
    };
    let location = info.location().map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
    let mut o = base_occurrence("panic".to_owned(), message.clone());
    o.site = info.location().map(|l| CaptureSite {
        function: String::new(),
        file: l.file().to_owned(),
        line: l.line(),
        column: l.column(),
        function_line: None,
    });
    o.panic = Some(PanicInfo { message, location });
    let mut ips = raw_stack(hook_frame);
    // The walk keeps the frame that holds the local (see `raw_stack`): here
    // the hook's own. Without stack pointers it kept everything.
    if hook_frame != 0 && !ips.is_empty() {
        ips.remove(0);
    }
    Pending::new(o, ips, current_request())
}
