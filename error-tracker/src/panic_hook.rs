//! The chained panic hook: records the panic, then runs the hook that was
//! installed before.

use std::panic;
use std::time::Duration;

use crate::budget::Admission;
use crate::capture::{self, State};

/// How long a `panic = "abort"` binary waits for the record to be written.
const ABORT_FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

pub(crate) fn install() {
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        // A local of this frame, the hook's own: the stack is walked from
        // the frame above it, so that no frame of ours is stored, whether
        // or not the binary has the symbols to name them.
        let hook_frame = 0u8;
        match capture::state() {
            // A user impl panicked while we rendered it: caught and reported as
            // `<error while rendering>`, so stay silent.
            State::Rendering => return,
            // The tracker itself failed (the writer, or a capture): never recurse.
            State::Recording => {}
            State::Outside => record(info, std::ptr::addr_of!(hook_frame) as usize),
        }
        previous(info);
    }));
}

fn record(info: &panic::PanicHookInfo<'_>, hook_frame: usize) {
    let Some(t) = crate::tracker::get() else { return };
    // A panic's site is where it was raised: its `Location`, a static of
    // its own per call site, and so the group (see `fingerprint`). In a
    // storm of panics from one site, past the site's detail budget, a
    // repeat is only counted: no stack walk, no rendering, nothing queued,
    // and the tracked frames it unwinds through render nothing either.
    let admission = match info.location() {
        Some(l) => t.admit(crate::budget::key(std::ptr::from_ref(l).cast(), PANIC, l.line())),
        None => Admission::Detail(None),
    };
    let Admission::Detail(slot) = admission else {
        if cfg!(panic = "abort") {
            // The count is in the site's slot: the writer takes it on a flush.
            t.flush(ABORT_FLUSH_TIMEOUT);
        }
        return;
    };
    capture::with_state(State::Recording, || {
        let mut pending = crate::frames::on_panic(capture::panic_occurrence(info, hook_frame));
        pending.slot = slot;
        let open = pending.open;
        let location = info.location().map(|l| (l.file().to_owned(), l.line()));
        let id = t.submit_pending(pending);
        crate::frames::panic_submitted(id, open, location);
        if cfg!(panic = "abort") {
            // The process ends when this hook returns: write before it does.
            t.flush(ABORT_FLUSH_TIMEOUT);
        }
    });
}

/// The "error type" of a panic's budget key (see `budget::key`): one
/// static, so one address, for every panic.
static PANIC: &str = "panic";
