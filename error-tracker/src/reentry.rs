//! The re-entrancy guard: what the current thread is doing for the tracker.
//!
//! A leaf (it imports nothing of the crate): the capture path, masking, the
//! request context, the notifiers and the writer all use it, so it sits below
//! them all.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// What the current thread is doing for the tracker. Anything raised while
/// it is not [`State::Outside`] is not recorded: the tracker never recurses.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum State {
    /// User code.
    Outside,
    /// Capturing an occurrence, or the writer thread.
    Recording,
    /// Running a user `Debug`/`Display`/`Serialize` impl under `catch_unwind`:
    /// a panic here is expected, so it is neither recorded nor printed.
    Rendering,
}

thread_local! {
    static STATE: Cell<State> = const { Cell::new(State::Outside) };
}

pub(crate) fn state() -> State {
    STATE.try_with(Cell::get).unwrap_or(State::Recording)
}

/// Runs `f` with the thread in `state`, restoring the previous state after.
pub(crate) fn with_state<R>(s: State, f: impl FnOnce() -> R) -> R {
    struct Restore(State);
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = STATE.try_with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(STATE.try_with(|c| c.replace(s)).unwrap_or(State::Recording));
    f()
}

/// Runs user rendering code: a panic in it yields `None` and is neither
/// recorded nor printed.
pub(crate) fn guarded<R>(f: impl FnOnce() -> R) -> Option<R> {
    with_state(State::Rendering, || catch_unwind(AssertUnwindSafe(f)).ok())
}
