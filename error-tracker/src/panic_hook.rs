//! The chained panic hook: records the panic, then runs the hook that was
//! installed before.

use std::panic;
use std::time::Duration;

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
    capture::with_state(State::Recording, || {
        let pending = crate::frames::on_panic(capture::panic_occurrence(info, hook_frame));
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
