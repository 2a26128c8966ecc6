//! The chained panic hook: records the panic, then runs the hook that was
//! installed before.
//!
//! A panic's stack, walked from the hook, starts with std's and core's
//! panic machinery (`rust_panic_with_hook`, `begin_panic_handler`,
//! `panic_fmt`, and a cold fn such as `panic_bounds_check` or
//! `unwrap_failed`) before the user's frame. With symbols the writer drops
//! those frames by name; a stripped binary has no names. So the hook drops
//! them by address: [`install`] raises a few probe panics, one per path
//! into the machinery (`panic!`, an index, `unwrap`, `expect`, a division,
//! a `RefCell`, `assert!`, `panic_any`, ...), and keeps the return
//! addresses found between the hook and the probe's frame. Those are fixed
//! call sites in std and core, the same for every panic taking that path.
//! A path no probe takes (a core fn not listed, or a generic one such as
//! `assert_failed::<T, U>` instantiated for the user's types) leaves its
//! one frame, unnamed in a stripped binary, on top of the user's.

use std::cell::{Cell, RefCell};
use std::panic;
use std::sync::OnceLock;
use std::time::Duration;

use crate::budget::Admission;
use crate::capture::{self, State};
use crate::occurrence::EventId;
use crate::tracker::{Open, Tracker};

/// How long a `panic = "abort"` binary waits for the record to be written.
const ABORT_FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

pub(crate) fn install() {
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        // A local of this frame, the hook's own: the stack is walked from
        // the frame above it, so that no frame of ours is stored, whether
        // or not the binary has the symbols to name them.
        let hook_frame = 0u8;
        if PROBING.try_with(Cell::get).unwrap_or(false) {
            // One of `learn_machinery`'s own panics: keep its stack, nothing else.
            let ips = above_hook(std::ptr::addr_of!(hook_frame) as usize);
            let _ = PROBED.try_with(|p| p.replace(Some(ips)));
            return;
        }
        match capture::state() {
            // A user impl panicked while we rendered it: caught and reported as
            // `<error while rendering>`, so stay silent.
            State::Rendering => return,
            // The tracker itself failed (the writer, or a capture): never recurse.
            State::Recording => {}
            State::Outside => {
                let open = record(info, std::ptr::addr_of!(hook_frame) as usize);
                previous(info);
                // The previous hook may have taken long (std's prints a
                // backtrace under `RUST_BACKTRACE`, symbolizing it): tell
                // the writer the chain goes on, so that it holds the
                // occurrence for the frames the unwinding will add.
                if let Some((t, id)) = open {
                    t.amend(id, None, Vec::new(), false);
                }
                return;
            }
        }
        previous(info);
    }));
    MACHINERY.get_or_init(learn_machinery);
}

/// Records the panic; returns its occurrence when it is open, waiting for
/// the snapshots of the tracked frames the panic unwinds through.
fn record(info: &panic::PanicHookInfo<'_>, hook_frame: usize) -> Option<(&'static Tracker, EventId)> {
    let t = crate::tracker::get()?;
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
        return None;
    };
    capture::with_state(State::Recording, || {
        let mut pending = crate::frames::on_panic(capture::panic_occurrence(info, hook_frame));
        drop_machinery(&mut pending.ips);
        pending.slot = slot;
        let open = pending.open == Open::Panic;
        let location = info.location().map(|l| (l.file().to_owned(), l.line()));
        let id = t.submit_pending(pending);
        crate::frames::panic_submitted(id, open, location);
        if cfg!(panic = "abort") {
            // The process ends when this hook returns: write before it does.
            t.flush(ABORT_FLUSH_TIMEOUT);
        }
        open.then_some((t, id))
    })
}

/// The "error type" of a panic's budget key (see `budget::key`): one
/// static, so one address, for every panic.
static PANIC: &str = "panic";

/// The return addresses of the panic machinery in this binary, sorted (see
/// the module docs); empty when they could not be learned.
static MACHINERY: OnceLock<Vec<usize>> = OnceLock::new();

thread_local! {
    /// Whether this thread is raising `learn_machinery`'s probe panics.
    static PROBING: Cell<bool> = const { Cell::new(false) };
    /// The stack of the last probe panic, from the frame above the hook's.
    static PROBED: RefCell<Option<Vec<usize>>> = const { RefCell::new(None) };
}

/// The stack from the frame above the hook's, whose local is at `hook_frame`.
fn above_hook(hook_frame: usize) -> Vec<usize> {
    let mut ips = capture::raw_stack(hook_frame);
    // The walk keeps the frame that holds the local (see `raw_stack`): here
    // the hook's own. Without stack pointers it kept everything.
    if hook_frame != 0 && !ips.is_empty() {
        ips.remove(0);
    }
    ips
}

/// Drops the leading frames of a panic's stack that are the machinery's,
/// keeping one frame at least.
fn drop_machinery(ips: &mut Vec<usize>) {
    let Some(machinery) = MACHINERY.get() else { return };
    let n = ips.iter().take_while(|ip| machinery.binary_search(ip).is_ok()).count();
    if n < ips.len() {
        ips.drain(..n);
    }
}

/// The number of probes: see [`probe`].
const PROBES: u8 = 14;

/// Raises the probe panics, under the hook just installed, and returns the
/// return addresses between the hook and each probe's frame.
fn learn_machinery() -> Vec<usize> {
    // Under `panic = "abort"` a probe would end the process; the stack then
    // keeps the machinery's frames (named, unless stripped).
    if cfg!(panic = "abort") || PROBING.try_with(|p| p.replace(true)).is_err() {
        return Vec::new();
    }
    let mut machinery = Vec::new();
    for kind in 0..PROBES {
        let mut outer = Vec::new();
        let raised = panic::catch_unwind(panic::AssertUnwindSafe(|| probe(kind, &mut outer)));
        let walked = PROBED.with(RefCell::take);
        let Err(payload) = raised else { continue };
        // A payload whose drop panics must not stop `init`.
        let _ = panic::catch_unwind(panic::AssertUnwindSafe(move || drop(payload)));
        let Some(walked) = walked else { continue };
        // `walked`: [machinery.., the probe at its panic, its callers..];
        // `outer`: [the probe at its walk, its callers..]. Learn only when
        // both walks are whole and agree on every caller.
        let callers = walked.iter().rev().zip(outer.iter().rev()).take_while(|(a, b)| a == b).count();
        if callers >= 1 && callers + 1 == outer.len() && callers + 1 < walked.len() {
            machinery.extend_from_slice(&walked[..walked.len() - callers - 1]);
        }
    }
    PROBING.set(false);
    machinery.sort_unstable();
    machinery.dedup();
    machinery
}

/// Panics by the path `kind` into the machinery, after walking its own
/// stack into `outer`. Every input is opaque to the optimizer, so each
/// probe panics as a user's code would.
#[inline(never)]
fn probe(kind: u8, outer: &mut Vec<usize>) {
    use std::hint::black_box;
    let local = 0u8;
    *outer = capture::raw_stack(black_box(std::ptr::addr_of!(local)) as usize);
    let empty: &[u8] = black_box(&[]);
    let text: &str = black_box("é");
    match black_box(kind) {
        0 => panic!("{}", black_box(0)),
        1 => panic!("probe"),
        2 => {
            black_box(empty[black_box(1)]);
        }
        3 => {
            black_box(black_box(None::<u8>).unwrap());
        }
        4 => {
            black_box(black_box(None::<u8>).expect("probe"));
        }
        5 => {
            black_box(black_box(Err::<u8, u8>(0)).unwrap());
        }
        6 => {
            black_box(&empty[..black_box(1)]);
        }
        7 => {
            black_box(&empty[black_box(1)..black_box(0)]);
        }
        8 => {
            black_box(&text[..black_box(1)]);
        }
        9 => {
            black_box(black_box(1u32) / black_box(0u32));
        }
        10 => {
            let cell = black_box(RefCell::new(0u8));
            let _held = cell.borrow_mut();
            black_box(cell.borrow_mut());
        }
        11 => assert!(black_box(false)),
        12 => std::panic::panic_any(black_box(0u8)),
        // Only with overflow checks (debug builds); elsewhere it returns.
        _ => {
            black_box(black_box(u32::MAX) + black_box(1u32));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The name of the function at `ip`, as the debug info of this test binary has it.
    fn name(ip: usize) -> String {
        let mut name = String::new();
        backtrace::resolve(ip as *mut std::ffi::c_void, |s| {
            if name.is_empty() {
                name = s.name().map(|n| format!("{n:#}")).unwrap_or_default();
            }
        });
        name
    }

    /// Panics by paths that reach the machinery straight from this fn. (An
    /// `unwrap` or an index goes through a generic `#[inline]` fn of core,
    /// which an unoptimized build copies into each codegen unit: there the
    /// copy's frame stays, named; an optimized build inlines it.)
    #[inline(never)]
    fn user_panics(kind: u8) {
        use std::hint::black_box;
        match black_box(kind) {
            0 => panic!("user {}", black_box(7)),
            1 => assert!(black_box(false)),
            _ => {
                black_box(black_box(1u32) / black_box(0u32));
            }
        }
    }

    /// The stack of a panic is trimmed by the addresses learned, not by
    /// names, so in a stripped binary too: checked here by naming the
    /// frames with this test binary's debug info.
    #[test]
    fn the_machinery_of_a_panic_is_dropped_by_address() {
        install();
        let machinery = MACHINERY.get().expect("learned at install");
        assert!(machinery.len() >= 5, "{} addresses learned", machinery.len());
        for kind in 0..3 {
            PROBING.set(true);
            let raised = panic::catch_unwind(|| user_panics(kind));
            PROBING.set(false);
            assert!(raised.is_err());
            let mut ips = PROBED.with(RefCell::take).expect("the hook walked the panic");
            let first = name(ips[0]);
            assert!(!first.contains("user_panics"), "the walk starts in the machinery: {first}");
            drop_machinery(&mut ips);
            let names: Vec<String> = ips.iter().take(3).map(|&ip| name(ip)).collect();
            assert!(names[0].ends_with("panic_hook::tests::user_panics"), "{kind}: {names:?}");
        }
    }
}
