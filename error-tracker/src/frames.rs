//! Tracked frames: the per-thread stack of `#[track_exception]` frames whose
//! arguments and locals are attached to the occurrence when they fail.
//!
//! The happy path touches one thread-local `Cell<u64>` on entry and one on
//! exit: the depth of tracked frames on this thread, and the depth of the
//! frame that last touched the pending occurrence (0 when there is none).
//! Everything else happens only when a frame fails:
//!
//! - **Errors.** The innermost tracked frame that returns `Err` captures the
//!   error, with its own snapshot, and submits it at once, *open* when
//!   tracked frames are still running above it: the writer holds an open
//!   occurrence until its chain closes or a short while (200 ms after the
//!   chain's last snapshot) passes, so
//!   a handled error is stored, and seen by `flush`, even while the frame
//!   that handled it runs on (a worker loop). A marker of it (its id) stays on the
//!   thread. Each enclosing tracked frame that returns `Err` too sends its
//!   snapshot for that id ([`Tracker::amend`]); the outermost closes it. A
//!   tracked frame that returns `Ok` while its callee's occurrence is open
//!   (the error was handled) closes it. A frame appends only to the
//!   occurrence of the frame just inside it (pending depth = its depth + 1);
//!   a sibling's (same depth) is left for the caller, which may return that
//!   error; any other is closed first, so one occurrence never collects
//!   unrelated frames.
//! - **Panics.** The panic hook cannot render user values (a panic inside a
//!   panic hook aborts the process). So it submits the base occurrence,
//!   open when tracked frames are on the stack, and leaves its marker here;
//!   then it runs the hook installed before ours (std's may print a
//!   backtrace first, which takes long) and tells the writer the unwinding
//!   starts: until then the writer waits for it (up to 30 s), whatever a
//!   `flush` wants. Each tracked frame adds its snapshot as the panic unwinds through it
//!   (from its bindings' guards, or once it caught the unwind), then
//!   unwinding goes on; the outermost closes it.
//! - **Futures.** A tracked `async fn` enters its frame on each poll and
//!   leaves it when the poll returns ([`Instrumented`]); a marker of its
//!   callee's occurrence is carried in the future across a yield.
//!
//! Whatever is left open when the thread ends is closed then.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::error::Error;
use std::fmt::Debug;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use crate::json::Value;

use crate::__private::Wrap;
use crate::budget::Admission;
use crate::capture::{self, State};
use crate::mask::Masking;
use crate::occurrence::EventId;
use crate::occurrence::{FrameSnapshot, Variable};
use crate::tracker::{Open, Pending, Tracker};

/// A type whose values are plain data: `#[track_exception]` bit-copies its
/// arguments and locals of this type into the frame and renders them only
/// when the function fails, instead of rendering them eagerly.
///
/// Integers, floats, `bool`, `char` and `()` are plain. Mark a small `Copy`
/// type of your own as plain to make tracking it free on the happy path; it
/// is rendered through its `Debug` impl. Implement it only for types
/// without lifetime parameters.
///
/// ```
/// #[derive(Clone, Copy, Debug)]
/// struct UserId(u64);
/// impl error_tracker::Plain for UserId {}
///
/// #[error_tracker::track_exception]
/// fn load(id: UserId) -> Result<String, std::io::Error> {
///     Err(std::io::Error::other(format!("no user {}", id.0)))
/// }
/// assert!(load(UserId(7)).is_err());
/// ```
pub trait Plain: Copy + Debug + Send + Sync + 'static {
    /// Renders the value when its frame failed. The default uses `Debug`.
    #[doc(hidden)]
    fn __error_tracker_render_plain(&self, m: &dyn Masking) -> Value {
        crate::mask::render_debug::<dyn Debug>(m, self)
    }
}

macro_rules! plain_numbers {
    ($($t:ty),*) => {$(
        impl Plain for $t {
            fn __error_tracker_render_plain(&self, _: &dyn Masking) -> Value {
                Value::from(*self)
            }
        }
    )*};
}
plain_numbers!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize, f32, f64, bool);

macro_rules! plain_as_string {
    ($($t:ty),*) => {$(
        impl Plain for $t {
            fn __error_tracker_render_plain(&self, _: &dyn Masking) -> Value {
                Value::String(self.to_string())
            }
        }
    )*};
}
plain_as_string!(u128, i128, char);

impl Plain for () {
    fn __error_tracker_render_plain(&self, _: &dyn Masking) -> Value {
        Value::Null
    }
}

const LOW: u64 = 0xffff_ffff;

thread_local! {
    /// Low half: how many tracked frames are running on this thread. High
    /// half: the depth that last touched `PENDING` (0: nothing pending).
    static DEPTHS: Cell<u64> = const { Cell::new(0) };
    static PENDING: PendingSlot = const { PendingSlot(RefCell::new(None)) };
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Error,
    Panic,
}

/// The occurrence a tracked frame on this thread failed with, submitted
/// already (open): the frames it goes up through add their snapshots to it
/// ([`Tracker::amend`]) until one handles it or the outermost is left.
struct Stashed {
    id: EventId,
    kind: Kind,
    /// A panic's location (file, line), for the innermost tracked frame
    /// it unwinds through: the frame's failing line when in its file.
    location: Option<(String, u32)>,
}

struct PendingSlot(RefCell<Option<Stashed>>);

impl Drop for PendingSlot {
    // The thread ends with a chain still open (an error handled by a tracked
    // frame that never returned): nothing more will come.
    fn drop(&mut self) {
        if let Some(s) = self.0.get_mut().take() {
            close(s);
        }
    }
}

/// No more frames will come for `s`: the writer may store it.
fn close(s: Stashed) {
    if s.id.is_nil() {
        return;
    }
    if let Some(t) = crate::tracker::installed() {
        t.amend(s.id, None, Vec::new(), true);
    }
}

fn set_pending_depth(p: u32) {
    DEPTHS.with(|c| c.set((c.get() & LOW) | (u64::from(p) << 32)));
}

fn take_pending() -> Option<Stashed> {
    set_pending_depth(0);
    PENDING.try_with(|s| s.0.borrow_mut().take()).ok().flatten()
}

/// Keeps `s` open at `depth`, closing whatever was open before.
fn stash(s: Stashed, depth: u32) {
    let mut s = Some(s);
    match PENDING.try_with(|slot| slot.0.borrow_mut().replace(s.take().expect("taken once"))) {
        Ok(previous) => {
            set_pending_depth(depth);
            if let Some(p) = previous {
                close(p);
            }
        }
        // The thread is ending: close at once.
        Err(_) => {
            if let Some(s) = s {
                close(s);
            }
        }
    }
}

/// Closes whatever is open on this thread: a tracked frame handled it.
#[cold]
#[inline(never)]
fn flush_pending() {
    if let Some(s) = take_pending() {
        capture::with_state(State::Recording, || close(s));
    }
}

/// Whether the frame running on this thread, failing now, goes up with
/// the error of the tracked frame just inside it (as its exit will see it,
/// see [`exit_err`]): `Some(true)` when that error was only counted (see
/// `budget`), `Some(false)` when it was recorded, `None` when the failure
/// is its own.
pub(crate) fn inner_failure() -> Option<bool> {
    let d = DEPTHS.try_with(Cell::get).ok()?;
    if (d >> 32) != (d & LOW) + 1 {
        return None;
    }
    PENDING
        .try_with(|s| s.0.try_borrow().ok()?.as_ref().filter(|p| p.kind == Kind::Error).map(|p| p.id.is_nil()))
        .ok()
        .flatten()
}

/// Enters a tracked frame; returns its depth (1 for the outermost).
///
/// It does not look at the pending occurrence: one left by a finished
/// sibling is never appended to by this frame or its callees (that needs
/// the pending depth to be exactly one more than theirs), and it is
/// submitted by the next exit.
#[inline]
pub fn enter() -> u32 {
    DEPTHS.with(|c| {
        let v = c.get();
        c.set(v + 1);
        (v & LOW) as u32 + 1
    })
}

/// Leaves the tracked frame entered at `depth`.
#[inline]
fn leave(depth: u32) {
    DEPTHS.with(|c| c.set((c.get() & !LOW) | u64::from(depth - 1)));
}

/// The frame at `depth` returned normally (not `Err`): an occurrence pending
/// from the frame just inside it was handled, so it is submitted now.
///
/// An occurrence pending from a *sibling* (a frame at the same depth that
/// failed earlier) is left alone: this frame's caller may still return that
/// error (`let r = load(id); audit(id)?; r`), and then it appends its own
/// frame to it rather than record it a second time.
#[inline]
pub fn exit_ok(depth: u32) {
    if DEPTHS.with(Cell::get) >> 32 > u64::from(depth) {
        flush_pending();
    }
}

/// Leaves the frame and handles a normal return, in one thread-local access.
/// It takes and gives back the return value so that, on the happy path, no
/// value of the caller lives across a call (the caller then needs no saved
/// registers).
#[inline(always)]
pub fn leave_ok<R>(depth: u32, value: R) -> R {
    if leave_pending(depth) > u64::from(depth) { flush_returning(value) } else { value }
}

/// Leaves the frame entered at `depth` and returns the pending depth.
#[inline(always)]
fn leave_pending(depth: u32) -> u64 {
    DEPTHS.with(|c| {
        let v = c.get();
        c.set((v & !LOW) | u64::from(depth - 1));
        v >> 32
    })
}

#[cold]
#[inline(never)]
fn flush_returning<R>(value: R) -> R {
    flush_pending();
    value
}

/// The frame of a tracked fn whose body cannot move into a closure: one
/// returning `impl Trait` (the closure would lose the expected type of a
/// returned closure) or marked `#[track_caller]` (a closure would report its
/// own location). The body runs inline; dropping the guard leaves the frame,
/// and while the thread unwinds it adds the frame's snapshot to the panic.
pub struct FrameGuard<F: FnOnce(&Tracker) -> Snapshot> {
    depth: u32,
    snapshot: Option<F>,
}

impl<F: FnOnce(&Tracker) -> Snapshot> FrameGuard<F> {
    /// Enters the frame.
    #[inline(always)]
    pub fn new(snapshot: F) -> Self {
        FrameGuard { depth: enter(), snapshot: Some(snapshot) }
    }
}

impl<F: FnOnce(&Tracker) -> Snapshot> Drop for FrameGuard<F> {
    #[inline]
    fn drop(&mut self) {
        let pending = leave_pending(self.depth);
        if std::thread::panicking() {
            // Rendering runs user code while the thread unwinds: a panic in
            // it is caught by `guarded`, which does not abort inside a `Drop`.
            if let Some(snapshot) = self.snapshot.take() {
                exit_panic(self.depth, &mut once(snapshot));
            }
        } else if pending > u64::from(self.depth) {
            flush_pending();
        }
    }
}

/// [`exit_err`] for a returned value: leaves the frame (sync fns; a future
/// left it when its poll returned), captures the error `capture` finds in
/// the value, and gives the value back. One call in tail position keeps the
/// caller's happy path free of saved registers.
#[cold]
#[inline(never)]
pub fn exit_err_value<R>(
    depth: u32,
    leave_frame: bool,
    frame: &crate::bindings::Frame<'_>,
    value: R,
    capture: impl FnOnce(&R, &Tracker) -> Option<Capture>,
    snapshot: impl FnOnce(&Tracker) -> Snapshot,
) -> R {
    if leave_frame {
        leave(depth);
    }
    let ret_name = std::any::type_name::<R>();
    exit_err(depth, frame, ret_name, &mut once(|t: &Tracker| capture(&value, t)), &mut once(snapshot));
    value
}

/// Leaves the frame (sync fns), runs [`exit_panic`], then resumes unwinding
/// with `payload`.
#[cold]
#[inline(never)]
pub fn exit_panic_resume(
    depth: u32,
    leave_frame: bool,
    payload: Box<dyn Any + Send>,
    snapshot: impl FnOnce(&Tracker) -> Snapshot,
) -> ! {
    if leave_frame {
        leave(depth);
    }
    exit_panic(depth, &mut once(snapshot));
    std::panic::resume_unwind(payload)
}

/// Runs a tracked body, catching its panic so that the frame can add its
/// snapshot once the thread is no longer panicking.
#[inline(always)]
pub fn catch<R>(body: impl FnOnce() -> R) -> Result<R, Box<dyn Any + Send>> {
    catch_unwind(AssertUnwindSafe(body))
}

/// An `FnOnce(&Tracker) -> T` as an `FnMut`, to pass as `&mut dyn FnMut`:
/// the exits that take it then need no copy per closure type (per tracked
/// fn). Each exit calls it at most once; a second call would be a bug of the
/// exit, and panics (caught where the exits render, as a render error).
fn once<T>(f: impl FnOnce(&Tracker) -> T) -> impl FnMut(&Tracker) -> T {
    let mut f = Some(f);
    move |t| (f.take().expect("an exit calls its closure once"))(t)
}

/// Where a tracked function is: what the macro knows at compile time, plus a
/// cache of which of its names are secret.
pub struct Site {
    file: &'static str,
    line: u32,
    names: &'static [&'static str],
    /// Bit 63: computed; bit i (< 63): `names[i]` is secret.
    secret: AtomicU64,
}

const COMPUTED: u64 = 1 << 63;

impl Site {
    /// A site; `names` are the arguments, then the fields, then the locals.
    pub const fn new(file: &'static str, line: u32, names: &'static [&'static str]) -> Self {
        Site { file, line, names, secret: AtomicU64::new(0) }
    }

    /// Whether the name at `index` is secret. Computed once per site: the
    /// masking rules do not change after `init`.
    #[inline]
    fn is_secret(&self, m: &dyn Masking, index: usize) -> bool {
        let name = self.names.get(index).copied().unwrap_or("");
        if index >= 63 {
            return m.is_secret_key(name);
        }
        let mut bits = self.secret.load(Ordering::Relaxed);
        if bits & COMPUTED == 0 {
            bits = COMPUTED;
            for (i, n) in self.names.iter().take(63).enumerate() {
                if m.is_secret_key(n) {
                    bits |= 1 << i;
                }
            }
            self.secret.store(bits, Ordering::Relaxed);
        }
        bits & (1 << index) != 0
    }

    fn name(&self, index: usize) -> &'static str {
        self.names.get(index).copied().unwrap_or("?")
    }
}

/// The snapshot of one failing frame and the extra values of its `fields(...)`.
pub struct Snapshot {
    frame: FrameSnapshot,
    extra: Vec<Variable>,
}

impl Snapshot {
    /// An empty snapshot of `function` at `site`. `function` is the path of a
    /// marker fn declared inside the tracked function (its last segment is
    /// dropped), unless the user named the frame.
    pub fn new(site: &Site, function: &str, named: bool) -> Self {
        let function = if named { function.to_owned() } else { enclosing_function(function).to_owned() };
        Snapshot {
            frame: FrameSnapshot {
                function,
                file: Some(site.file.to_owned()),
                line: Some(site.line),
                function_line: Some(site.line),
                args: Vec::new(),
                locals: Vec::new(),
            },
            extra: Vec::new(),
        }
    }

    /// Adds an argument kept by reference: masked by name, else rendered now.
    pub fn arg_ref(&mut self, t: &Tracker, site: &Site, index: usize, render: impl FnOnce(&dyn Masking) -> Value) {
        let mut render = Some(render);
        let v = named(t, site, index, &mut |m| render.take().map_or(Value::Null, |r| r(m)));
        self.frame.args.push(v);
    }

    /// Adds a `fields(...)` value.
    pub fn field(&mut self, t: &Tracker, site: &Site, index: usize, snap: &impl Snap) {
        let v = named(t, site, index, &mut |m| snap.__error_tracker_value(m));
        self.extra.push(v);
    }

    /// Adds an owned argument read from its slot (see `bindings`).
    pub fn push_arg(&mut self, v: Option<Variable>) {
        self.frame.args.extend(v);
    }

    /// Adds the locals read from their slots, in order.
    pub fn push_locals(&mut self, vs: impl Iterator<Item = Option<Variable>>) {
        self.frame.locals.extend(vs.flatten());
    }

    /// The line where the frame failed, when a failure site saw it.
    pub fn failed_at(&mut self, line: Option<u32>) {
        if line.is_some() {
            self.frame.line = line;
        }
    }
}

/// The path of the fn that declares the marker fn whose path is `marker`
/// (`app::load::{{closure}}::marker` → `app::load`): closures are part of
/// their fn.
pub(crate) fn enclosing_function(marker: &str) -> &str {
    without_closures(marker.rsplit_once("::").map_or(marker, |(head, _)| head))
}

/// `app::load` for `app::load::{{closure}}::{{closure}}`: a closure is
/// part of its fn.
pub(crate) fn without_closures(mut function: &str) -> &str {
    while let Some(outer) = function.strip_suffix("::{{closure}}") {
        function = outer;
    }
    function
}

/// One shared copy (not generic): the generated code calls it for every
/// argument kept by reference and every `fields(...)` value.
#[inline(never)]
pub(crate) fn named(t: &Tracker, site: &Site, index: usize, render: &mut dyn FnMut(&dyn Masking) -> Value) -> Variable {
    let m = &*t.masking;
    let value = if site.is_secret(m, index) { Value::String(m.mask().to_owned()) } else { render(m) };
    Variable { name: site.name(index).to_owned(), value }
}

/// An error captured by the innermost failing frame.
pub struct Capture(Pending);

/// The frame at `depth` returned `Err`.
///
/// Not generic (the closures come as `dyn`, see [`once`]): one copy of it in
/// the program, not one per tracked fn.
#[cold]
#[inline(never)]
fn exit_err(
    depth: u32,
    frame: &crate::bindings::Frame<'_>,
    ret_name: &'static str,
    capture: &mut dyn FnMut(&Tracker) -> Option<Capture>,
    snapshot: &mut dyn FnMut(&Tracker) -> Snapshot,
) {
    let pending_depth = (DEPTHS.with(Cell::get) >> 32) as u32;
    let previous = take_pending();
    let Some(t) = crate::tracker::get() else {
        if let Some(p) = previous {
            close(p);
        }
        return;
    };
    match previous {
        // The error came up from the frame just inside this one. Nil: it
        // was only counted (see `budget`), there is nothing to add to.
        Some(p) if p.kind == Kind::Error && pending_depth == depth + 1 => {
            if !p.id.is_nil() {
                capture::with_state(State::Recording, || {
                    let s = snapshot(t);
                    t.amend(p.id, Some(s.frame), s.extra, depth <= 1);
                });
            }
            if depth > 1 {
                stash(p, depth);
            }
        }
        other => {
            if let Some(p) = other {
                close(p);
            }
            // Outside the recording state: deciding runs no user code.
            let slot = match frame.admission(t, ret_name) {
                Admission::Detail(slot) => slot,
                Admission::Counted => {
                    // The frames it goes up through add nothing either.
                    if depth > 1 {
                        stash(Stashed { id: EventId::nil(), kind: Kind::Error, location: None }, depth);
                    }
                    return;
                }
            };
            capture::with_state(State::Recording, || {
                // Not an `Err` after all: nothing to record.
                let Some(Capture(mut pending)) = capture(t) else { return };
                let s = snapshot(t);
                pending.occurrence.frames.push(s.frame);
                pending.occurrence.extra.extend(s.extra);
                pending.open = if depth > 1 { Open::Chain } else { Open::No };
                pending.slot = slot;
                let id = t.submit_pending(pending);
                if depth > 1 {
                    stash(Stashed { id, kind: Kind::Error, location: None }, depth);
                }
            });
        }
    }
}

/// The frame at `depth` was unwound by a panic, now caught (or unwinding
/// through its guard): adds its snapshot to the panic's occurrence.
#[cold]
#[inline(never)]
fn exit_panic(depth: u32, snapshot: &mut dyn FnMut(&Tracker) -> Snapshot) {
    let pending_depth = (DEPTHS.with(Cell::get) >> 32) as u32;
    if pending_depth <= depth {
        // Nothing stashed by an inner point: the panic was raised while
        // recording, before `init`, or by `resume_unwind`. Leave it alone.
        return;
    }
    let Some(mut s) = take_pending() else { return };
    let t = match crate::tracker::get() {
        Some(t) if s.kind == Kind::Panic => t,
        _ => {
            close(s);
            return;
        }
    };
    capture::with_state(State::Recording, || {
        let mut snap = snapshot(t);
        if let Some((file, line)) = s.location.take()
            && snap.frame.file.as_deref() == Some(file.as_str())
        {
            snap.frame.line = Some(line);
        }
        t.amend(s.id, Some(snap.frame), snap.extra, depth <= 1);
        if depth > 1 {
            stash(s, depth);
        }
    });
}

/// Called by the panic hook: marks the occurrence open when tracked frames
/// on the stack will add their snapshots while unwinding. The hook submits
/// it at once either way, so a process that ends while unwinding keeps it.
pub(crate) fn on_panic(mut pending: Pending) -> Pending {
    let depth = DEPTHS.try_with(|c| (c.get() & LOW) as u32).unwrap_or(0);
    if depth == 0 || cfg!(panic = "abort") || PENDING.try_with(|_| ()).is_err() {
        return pending;
    }
    if let Some(old) = take_pending() {
        close(old);
    }
    pending.open = Open::Panic;
    pending
}

/// Whether a panic's occurrence is open on this thread, for the tracked
/// frames it unwinds through to add their snapshots to: not when its site
/// only counted it (see `budget`), so that they render nothing.
pub(crate) fn panic_open() -> bool {
    PENDING
        .try_with(|s| s.0.try_borrow().is_ok_and(|p| p.as_ref().is_some_and(|p| p.kind == Kind::Panic)))
        .unwrap_or(false)
}

/// The panic hook submitted `id`, open: tracked frames up to `depth` add to
/// it. `location` is where the panic was raised.
pub(crate) fn panic_submitted(id: EventId, open: bool, location: Option<(String, u32)>) {
    if open {
        let depth = DEPTHS.try_with(|c| (c.get() & LOW) as u32).unwrap_or(0);
        stash(Stashed { id, kind: Kind::Panic, location }, depth + 1);
    }
}

pin_project_lite::pin_project! {
    /// A tracked future: enters its frame on each poll, leaves it when the
    /// poll returns, and catches a panic of the inner future.
    ///
    /// When the future yields while an occurrence of a frame just inside it
    /// is pending (`let r = load(id).await; audit(id).await?; r`), the
    /// occurrence is held here rather than left on the thread, which the task
    /// may leave, and put back on the thread that polls next: the frame can
    /// then still add itself to it, so the error is recorded once.
    pub struct Instrumented<'f, 'a, F> {
        #[pin]
        inner: F,
        held: Option<Stashed>,
        frame: &'f crate::bindings::Frame<'a>,
    }

    impl<'f, 'a, F> PinnedDrop for Instrumented<'f, 'a, F> {
        // Dropped (cancelled) while holding an open occurrence: close it.
        fn drop(this: Pin<&mut Self>) {
            if let Some(s) = this.project().held.take() {
                close(s);
            }
        }
    }
}

impl<'f, 'a, F: Future> Instrumented<'f, 'a, F> {
    /// Wraps the body of a tracked `async fn`, whose bindings are in `frame`.
    pub fn new(frame: &'f crate::bindings::Frame<'a>, inner: F) -> Self {
        Instrumented { inner, held: None, frame }
    }
}

impl<F: Future> Future for Instrumented<'_, '_, F> {
    type Output = (Result<F::Output, Box<dyn Any + Send>>, u32);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let depth = enter();
        if let Some(s) = this.held.take() {
            stash(s, depth + 1);
        }
        let inner = this.inner;
        let polled = catch_unwind(AssertUnwindSafe(|| inner.poll(cx)));
        leave(depth);
        match polled {
            Ok(Poll::Ready(v)) => Poll::Ready((Ok(v), depth)),
            Ok(Poll::Pending) => {
                // The task may resume on another thread: take an inner
                // frame's occurrence along, or submit a deeper one.
                let pending_depth = DEPTHS.with(Cell::get) >> 32;
                if pending_depth == u64::from(depth) + 1 {
                    *this.held = take_pending();
                } else if pending_depth > u64::from(depth) {
                    flush_pending();
                }
                Poll::Pending
            }
            Err(payload) => {
                // The body's bindings live in its future, which unwinding
                // did not drop: render them now, while they are alive.
                this.frame.unwinding();
                Poll::Ready((Err(payload), depth))
            }
        }
    }
}

/// A value snapshotted on entry or where it is bound, rendered on failure.
pub trait Snap {
    /// Renders the snapshot.
    fn __error_tracker_value(&self, m: &dyn Masking) -> Value;
}

/// A plain value, bit-copied.
pub struct PlainSnap<T: Plain>(T);

impl<T: Plain> Snap for PlainSnap<T> {
    fn __error_tracker_value(&self, m: &dyn Masking) -> Value {
        let v = self.0;
        capture::guarded(move || v.__error_tracker_render_plain(m))
            .unwrap_or_else(|| Value::String(crate::mask::RENDER_ERROR.to_owned()))
    }
}

/// A value rendered where it was bound (masked by name already).
pub struct Rendered(Option<Value>);

impl Snap for Rendered {
    fn __error_tracker_value(&self, _: &dyn Masking) -> Value {
        self.0.clone().unwrap_or_else(|| Value::String("<not captured: tracker not initialized>".to_owned()))
    }
}

/// A value that is neither plain, `Serialize` nor `Debug`, or whose type was
/// not known where it was bound: its type name.
pub struct NameSnap(&'static str);

impl Snap for NameSnap {
    fn __error_tracker_value(&self, _: &dyn Masking) -> Value {
        Value::String(format!("<{}>", self.0))
    }
}

fn eager(site: &Site, index: usize, render: impl FnOnce(&dyn Masking) -> Value) -> Rendered {
    let Some(t) = crate::tracker::get() else { return Rendered(None) };
    let m = &*t.masking;
    if site.is_secret(m, index) {
        return Rendered(Some(Value::String(m.mask().to_owned())));
    }
    Rendered(Some(render(m)))
}

/// A `Serialize` type whose serialization cannot take a lock: strings,
/// numbers and std's containers of such. Tracked values of these types are
/// rendered through `Serialize` (a string stays a string, a `Vec` a list);
/// any other type that has `Debug` is rendered through `Debug`, which never
/// blocks (see [`SnapViaPlain`]).
#[doc(hidden)]
pub trait Unlocked: serde::Serialize {}

macro_rules! unlocked {
    ($($t:ty),* $(,)?) => { $(impl Unlocked for $t {})* };
}
unlocked!(
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    bool,
    char,
    (),
    str,
    String,
    std::path::Path,
    std::path::PathBuf,
    std::time::Duration,
    std::time::SystemTime,
    std::net::IpAddr,
    std::net::Ipv4Addr,
    std::net::Ipv6Addr,
    std::net::SocketAddr,
);
impl<T: Unlocked + ?Sized> Unlocked for Box<T> {}
impl<T: Unlocked + ?Sized> Unlocked for &T {}
impl<T: Unlocked + ?Sized> Unlocked for &mut T {}
impl<T: Unlocked + ToOwned + ?Sized> Unlocked for std::borrow::Cow<'_, T> {}
impl<T: Unlocked> Unlocked for Option<T> {}
impl<T: Unlocked, E: Unlocked> Unlocked for Result<T, E> {}
impl<T: Unlocked> Unlocked for [T] {}
impl<T: Unlocked> Unlocked for Vec<T> {}
impl<T: Unlocked> Unlocked for std::collections::VecDeque<T> {}
impl<T: Unlocked> Unlocked for std::collections::BTreeSet<T> {}
impl<K: Unlocked, V: Unlocked> Unlocked for std::collections::BTreeMap<K, V> {}
impl<T: Unlocked, S> Unlocked for std::collections::HashSet<T, S> {}
impl<K: Unlocked, V: Unlocked, S> Unlocked for std::collections::HashMap<K, V, S> {}
impl<A: Unlocked, B: Unlocked> Unlocked for (A, B) {}
impl<A: Unlocked, B: Unlocked, C: Unlocked> Unlocked for (A, B, C) {}
impl<A: Unlocked, B: Unlocked, C: Unlocked, D: Unlocked> Unlocked for (A, B, C, D) {}

/// Snapshot dispatch, most specific first: plain > [`Unlocked`] >
/// `Debug` > `Serialize` > name.
///
/// `Debug` comes before `Serialize` because rendering must never block:
/// serde's `Serialize` for `Mutex` and `RwLock` takes the lock (a deadlock
/// when this thread holds it), while std's `Debug` for them uses `try_lock`
/// and shows a held lock as `<locked>`.
pub trait SnapViaPlain {
    /// Snapshots the value.
    type Out: Snap;
    /// Snapshots the value.
    fn __error_tracker_snap(&self, site: &Site, index: usize) -> Self::Out;
}
impl<T: Plain> SnapViaPlain for &&&&Wrap<'_, T> {
    type Out = PlainSnap<T>;
    #[inline(always)]
    fn __error_tracker_snap(&self, _: &Site, _: usize) -> PlainSnap<T> {
        PlainSnap(*self.0)
    }
}
/// See [`SnapViaPlain`].
pub trait SnapViaUnlocked {
    /// Snapshots the value.
    type Out: Snap;
    /// Snapshots the value.
    fn __error_tracker_snap(&self, site: &Site, index: usize) -> Self::Out;
}
impl<T: Unlocked + ?Sized> SnapViaUnlocked for &&&Wrap<'_, T> {
    type Out = Rendered;
    #[inline]
    fn __error_tracker_snap(&self, site: &Site, index: usize) -> Rendered {
        eager(site, index, |m| crate::mask::render_serialize(m, self.0))
    }
}
/// See [`SnapViaPlain`].
pub trait SnapViaSerialize {
    /// Snapshots the value.
    type Out: Snap;
    /// Snapshots the value.
    fn __error_tracker_snap(&self, site: &Site, index: usize) -> Self::Out;
}
impl<T: serde::Serialize + ?Sized> SnapViaSerialize for &Wrap<'_, T> {
    type Out = Rendered;
    #[inline]
    fn __error_tracker_snap(&self, site: &Site, index: usize) -> Rendered {
        eager(site, index, |m| crate::mask::render_serialize(m, self.0))
    }
}
/// See [`SnapViaPlain`].
pub trait SnapViaDebug {
    /// Snapshots the value.
    type Out: Snap;
    /// Snapshots the value.
    fn __error_tracker_snap(&self, site: &Site, index: usize) -> Self::Out;
}
impl<T: Debug + ?Sized> SnapViaDebug for &&Wrap<'_, T> {
    type Out = Rendered;
    #[inline]
    fn __error_tracker_snap(&self, site: &Site, index: usize) -> Rendered {
        eager(site, index, |m| crate::mask::render_debug(m, self.0))
    }
}
/// See [`SnapViaPlain`].
pub trait SnapViaName {
    /// Snapshots the value.
    type Out: Snap;
    /// Snapshots the value.
    fn __error_tracker_snap(&self, site: &Site, index: usize) -> Self::Out;
}
impl<T: ?Sized> SnapViaName for Wrap<'_, T> {
    type Out = NameSnap;
    #[inline(always)]
    fn __error_tracker_snap(&self, _: &Site, _: usize) -> NameSnap {
        NameSnap(std::any::type_name::<T>())
    }
}

/// The error of a returned `Result`, if it is one.
pub trait ErrOfResult {
    /// The error type.
    type Err: ?Sized;
    /// `Some(err)` for an `Err`.
    fn __error_tracker_err(&self) -> Option<&Self::Err>;
}
impl<T, E> ErrOfResult for &Wrap<'_, Result<T, E>> {
    type Err = E;
    #[inline(always)]
    fn __error_tracker_err(&self) -> Option<&E> {
        self.0.as_ref().err()
    }
}
/// See [`ErrOfResult`]: anything that is not a `Result` never failed.
pub trait ErrOfOther {
    /// The error type.
    type Err: ?Sized;
    /// Always `None`.
    fn __error_tracker_err(&self) -> Option<&Self::Err>;
}
impl<T: ?Sized> ErrOfOther for Wrap<'_, T> {
    type Err = std::convert::Infallible;
    #[inline(always)]
    fn __error_tracker_err(&self) -> Option<&std::convert::Infallible> {
        None
    }
}

/// Error capture dispatch: `anyhow::Error` (with the backtrace it
/// captured, feature `anyhow`) > `Error` > `AsRef<dyn Error + Send + Sync>`
/// > `AsRef<dyn Error>` > `Debug` > name.
pub trait CaptureViaAnyhow {
    /// Captures the error.
    fn __error_tracker_capture(&self, t: &Tracker, from: usize) -> Capture;
}
#[cfg(feature = "anyhow")]
impl CaptureViaAnyhow for &&&&&Wrap<'_, anyhow::Error> {
    fn __error_tracker_capture(&self, t: &Tracker, from: usize) -> Capture {
        Capture(capture::pending_anyhow(t, self.0, from))
    }
}
/// See [`CaptureViaAnyhow`].
pub trait CaptureViaError {
    /// Captures the error.
    fn __error_tracker_capture(&self, t: &Tracker, from: usize) -> Capture;
}
impl<T: Error> CaptureViaError for &&&&Wrap<'_, T> {
    fn __error_tracker_capture(&self, _: &Tracker, from: usize) -> Capture {
        Capture(capture::pending_error(std::any::type_name::<T>(), self.0, from))
    }
}
/// See [`CaptureViaError`].
pub trait CaptureViaAsDynErrorSend {
    /// Captures the error.
    fn __error_tracker_capture(&self, t: &Tracker, from: usize) -> Capture;
}
impl<T: AsRef<dyn Error + Send + Sync> + ?Sized> CaptureViaAsDynErrorSend for &&&Wrap<'_, T> {
    fn __error_tracker_capture(&self, _: &Tracker, from: usize) -> Capture {
        Capture(capture::pending_error(std::any::type_name::<T>(), self.0.as_ref(), from))
    }
}
/// See [`CaptureViaError`].
pub trait CaptureViaAsDynError {
    /// Captures the error.
    fn __error_tracker_capture(&self, t: &Tracker, from: usize) -> Capture;
}
impl<T: AsRef<dyn Error> + ?Sized> CaptureViaAsDynError for &&Wrap<'_, T> {
    fn __error_tracker_capture(&self, _: &Tracker, from: usize) -> Capture {
        Capture(capture::pending_error(std::any::type_name::<T>(), self.0.as_ref(), from))
    }
}
/// See [`CaptureViaError`].
pub trait CaptureViaDebug {
    /// Captures the error.
    fn __error_tracker_capture(&self, t: &Tracker, from: usize) -> Capture;
}
impl<T: Debug + ?Sized> CaptureViaDebug for &Wrap<'_, T> {
    fn __error_tracker_capture(&self, t: &Tracker, from: usize) -> Capture {
        let message = match crate::mask::render_debug(&*t.masking, self.0) {
            Value::String(s) => s,
            other => other.to_string(),
        };
        Capture(capture::pending_message(std::any::type_name::<T>(), message, from))
    }
}
/// See [`CaptureViaError`].
pub trait CaptureViaName {
    /// Captures the error.
    fn __error_tracker_capture(&self, t: &Tracker, from: usize) -> Capture;
}
impl<T: ?Sized> CaptureViaName for Wrap<'_, T> {
    fn __error_tracker_capture(&self, _: &Tracker, from: usize) -> Capture {
        let name = std::any::type_name::<T>();
        Capture(capture::pending_message(name, format!("<{name}>"), from))
    }
}

/// What the generated code of the attribute macros calls.
#[doc(hidden)]
pub mod __private {
    pub use super::{
        Capture, CaptureViaAnyhow, CaptureViaAsDynError, CaptureViaAsDynErrorSend, CaptureViaDebug, CaptureViaError,
        CaptureViaName, ErrOfOther, ErrOfResult, FrameGuard, Instrumented, NameSnap, Site, Snap, SnapViaDebug,
        SnapViaName, SnapViaPlain, SnapViaSerialize, SnapViaUnlocked, Snapshot, Unlocked, catch, enter, exit_err_value,
        exit_ok, exit_panic_resume, leave_ok,
    };
    pub use crate::bindings::{
        BindViaDebug, BindViaName, BindViaPlain, BindViaSerialize, BindViaUnlocked, Frame, IsNotSharedRef, IsSharedRef,
        Slot, SlotGuard,
    };
}
