//! The bindings of a tracked frame, read where it fails rather than where
//! they are bound.
//!
//! `#[track_exception]` gives each owned argument and each `let` binding of
//! the body a [`Slot`]. On the happy path a slot only records where its
//! binding is, and the function that renders a value of its type (chosen
//! where the binding is made, when its type is already certain there; else
//! one that gives its type name, so that tracking never commits type
//! inference). No rendering, no allocation, the same cost whatever the
//! value's size. When the frame fails (a `?` or `return` with an `Err`, or
//! a panic unwinding through it) the bindings that are still readable are
//! rendered.
//!
//! A binding is readable while the generated code has seen nothing that
//! could have moved it, borrowed it mutably or ended its scope. The macro
//! decides that from the syntax, conservatively: before each statement that
//! names a binding other than through a shared borrow (`&x`, `&x.field`, a
//! comparison, a formatting macro's argument), the binding is marked read
//! (used by value) or written (a method's receiver, `&mut`, an assignment,
//! a closure or macro that names it); after `x = …;` it is bound again; at
//! the end of its scope it is ended. A binding marked so also taints every
//! readable binding bound after it, since those may borrow from it
//! (`let s = owned.as_str(); drop(owned);`), except when it was only read
//! and is plain: a copy leaves it in place. Plain values ([`Plain`]) keep a
//! copy of their bytes, so they are always shown.
//!
//! The slots hold no type: their pointers and render functions are erased,
//! so a binding that borrows another (`let view = owned.as_str();`) is
//! borrowed no longer than the user's code borrows it.
//!
//! # Soundness
//! A slot's pointer is dereferenced only while it is readable, which the
//! generated code guarantees means: the binding is initialized, has not
//! been moved since the pointer was taken, is not mutably borrowed by
//! anything still alive, and borrows nothing that was moved, written or
//! dropped since (see above). These functions are only for the code that
//! `#[track_exception]` generates; calling them by hand can break that.
//!
//! [`Plain`]: crate::Plain

use std::cell::UnsafeCell;
use std::fmt::Debug;
use std::mem::{MaybeUninit, align_of, size_of};
use std::sync::Mutex;
use std::sync::atomic::{AtomicPtr, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use crate::json::Value;

use crate::__private::Wrap;
use crate::frames::{Plain, Site, Unlocked};
use crate::mask::Masking;
use crate::occurrence::Variable;
use crate::tracker::Tracker;

/// Never bound (the `let` was not reached).
const UNSET: u8 = 0;
/// Readable.
const LIVE: u8 = 1;
/// Its scope ended.
const ENDED: u8 = 2;

/// The largest value whose bytes a slot copies when it is bound.
const BITS: usize = 32;

/// Renders the value a slot points to (`readable`), or, for a plain value,
/// the copy of its bytes; else gives its type name.
type RenderFn = unsafe fn(&Slot, &dyn Masking, bool) -> Result<Value, &'static str>;

/// One binding of a tracked frame: where it is, how to render it, and
/// whether it can still be read.
pub struct Slot {
    ptr: AtomicPtr<()>,
    render: AtomicPtr<()>,
    /// The binding's index in the site's names.
    name: AtomicUsize,
    born: AtomicU32,
    state: AtomicU8,
    /// Bit 0: the type is `Plain`; bit 1: it is a shared reference.
    kind: AtomicU8,
    /// How statements used it since it was bound (`READ | RECEIVER | WRITE`).
    used: AtomicU8,
    /// The bindings whose by-value use tainted this one (bit k: binding k).
    tainted_by_read: AtomicU64,
    /// The bindings whose use as a method's receiver tainted this one.
    tainted_by_receiver: AtomicU64,
    /// Whether a binding written or ended (or past 63) tainted it.
    tainted_by_write: AtomicU8,
    bits: UnsafeCell<MaybeUninit<[u64; BITS / 8]>>,
}

const PLAIN: u8 = 1;
const SHARED_REF: u8 = 2;
const READ: u8 = 1;
const RECEIVER: u8 = 2;
const WRITE: u8 = 4;

// SAFETY: a frame's slots are written and read only by the code of that
// frame: the thread running a sync fn, or the thread polling an async fn's
// future, never two at once (a future is polled by one thread at a time,
// and the executor synchronizes the hand-over). The pointer is dereferenced
// only under the conditions of the module docs, and only to render a value
// by the function chosen for its type, which for a non-`Plain` type reads it
// only while its frame runs on the thread that owns it.
unsafe impl Sync for Slot {}

impl Slot {
    /// A slot not bound yet.
    #[allow(clippy::declare_interior_mutable_const)] // a fresh slot per array element is the point
    pub const NEW: Slot = Slot {
        ptr: AtomicPtr::new(std::ptr::null_mut()),
        render: AtomicPtr::new(std::ptr::null_mut()),
        name: AtomicUsize::new(0),
        born: AtomicU32::new(0),
        state: AtomicU8::new(UNSET),
        kind: AtomicU8::new(0),
        used: AtomicU8::new(0),
        tainted_by_read: AtomicU64::new(0),
        tainted_by_receiver: AtomicU64::new(0),
        tainted_by_write: AtomicU8::new(0),
        bits: UnsafeCell::new(MaybeUninit::uninit()),
    };

    /// The value, for a render function chosen for its type `T`.
    ///
    /// # Safety
    /// The slot was bound to a `T` and is readable.
    unsafe fn get<T>(&self) -> &T {
        // SAFETY: by the caller's contract.
        unsafe { &*self.ptr.load(Ordering::Relaxed).cast::<T>() }
    }

    /// The copy of a plain value's bytes.
    ///
    /// # Safety
    /// The slot was bound to a `T`, which is `Plain`.
    unsafe fn copy<T: Plain>(&self) -> T {
        // SAFETY: `bind_plain` wrote the bytes of a `T` (it checks the size
        // and alignment statically); `T: Plain` is `Copy + 'static`, so its
        // bytes are a valid value that borrows nothing.
        unsafe { std::ptr::read(self.bits.get().cast::<T>()) }
    }
}

unsafe fn render_plain<T: Plain>(slot: &Slot, m: &dyn Masking, readable: bool) -> Result<Value, &'static str> {
    // SAFETY: bound by `bind_plain::<T>`; read live only when readable.
    let v: T = if readable { unsafe { *slot.get::<T>() } } else { unsafe { slot.copy::<T>() } };
    Ok(v.__error_tracker_render_plain(m))
}
unsafe fn render_unlocked<T: Unlocked>(slot: &Slot, m: &dyn Masking, readable: bool) -> Result<Value, &'static str> {
    if !readable {
        return Err(std::any::type_name::<T>());
    }
    // SAFETY: bound to a `T` by `bind_via`, and readable.
    Ok(crate::mask::render_serialize(m, unsafe { slot.get::<T>() }))
}
unsafe fn render_debug<T: Debug>(slot: &Slot, m: &dyn Masking, readable: bool) -> Result<Value, &'static str> {
    if !readable {
        return Err(std::any::type_name::<T>());
    }
    // SAFETY: as above.
    Ok(crate::mask::render_debug(m, unsafe { slot.get::<T>() }))
}
unsafe fn render_serialize<T: serde::Serialize>(
    slot: &Slot,
    m: &dyn Masking,
    readable: bool,
) -> Result<Value, &'static str> {
    if !readable {
        return Err(std::any::type_name::<T>());
    }
    // SAFETY: as above.
    Ok(crate::mask::render_serialize(m, unsafe { slot.get::<T>() }))
}
unsafe fn render_name<T>(_: &Slot, _: &dyn Masking, readable: bool) -> Result<Value, &'static str> {
    let name = std::any::type_name::<T>();
    if readable { Ok(Value::String(format!("<{name}>"))) } else { Err(name) }
}

/// The shared part of a tracked frame's bindings: their slots, and what was
/// rendered where the frame failed.
pub struct Frame<'a> {
    site: &'a Site,
    slots: &'a [Slot],
    clock: AtomicU32,
    /// The line of the `?`, `return` or tail where the frame failed (0: none).
    line: AtomicU32,
    taken: Mutex<Option<Vec<Option<Variable>>>>,
}

impl<'a> Frame<'a> {
    /// The frame of the tracked function at `site`, whose bindings are `slots`.
    #[inline(always)]
    pub fn new(site: &'a Site, slots: &'a [Slot]) -> Self {
        Frame { site, slots, clock: AtomicU32::new(0), line: AtomicU32::new(0), taken: Mutex::new(None) }
    }

    /// Binds slot `k`, the name at `name`, to `value`, rendered by `render`.
    #[inline(always)]
    fn bind<T>(&self, k: usize, name: usize, value: &T, render: RenderFn, kind: u8) {
        let Some(s) = self.slots.get(k) else { return };
        let now = self.clock.load(Ordering::Relaxed) + 1;
        self.clock.store(now, Ordering::Relaxed);
        s.ptr.store((value as *const T).cast_mut().cast(), Ordering::Relaxed);
        s.render.store(render as *mut (), Ordering::Relaxed);
        s.name.store(name, Ordering::Relaxed);
        s.born.store(now, Ordering::Relaxed);
        s.state.store(LIVE, Ordering::Relaxed);
        s.kind.store(kind, Ordering::Relaxed);
        s.used.store(0, Ordering::Relaxed);
        s.tainted_by_read.store(0, Ordering::Relaxed);
        s.tainted_by_receiver.store(0, Ordering::Relaxed);
        s.tainted_by_write.store(0, Ordering::Relaxed);
    }

    /// Binds slot `k` to a value whose type is not certain where it is
    /// bound: it is shown by its type name.
    #[inline(always)]
    pub fn bind_unknown<T>(&self, k: usize, name: usize, value: &T) {
        self.bind(k, name, value, render_name::<T>, 0);
    }

    /// Binding `k` is used by value by the next statement: moved, or
    /// copied when it is `Copy`.
    #[inline(always)]
    pub fn read(&self, k: usize) {
        self.retire(k, READ);
    }

    /// Binding `k` is the receiver of a method call in the next statement:
    /// it may be moved, written or mutably borrowed, unless it is a shared
    /// reference.
    #[inline(always)]
    pub fn receiver(&self, k: usize) {
        self.retire(k, RECEIVER);
    }

    /// Binding `k` may be written or mutably borrowed by the next statement.
    #[inline(always)]
    pub fn written(&self, k: usize) {
        self.retire(k, WRITE);
    }

    /// The scope of binding `k` ends.
    #[inline(always)]
    pub fn ended(&self, k: usize) {
        if let Some(s) = self.slots.get(k)
            && s.state.load(Ordering::Relaxed) != UNSET
        {
            self.retire(k, WRITE);
            s.state.store(ENDED, Ordering::Relaxed);
        }
    }

    #[inline]
    fn retire(&self, k: usize, how: u8) {
        let Some(s) = self.slots.get(k) else { return };
        if s.state.load(Ordering::Relaxed) == UNSET {
            return;
        }
        s.used.fetch_or(how, Ordering::Relaxed);
        // Whatever was bound after it may borrow from it.
        let born = s.born.load(Ordering::Relaxed);
        let bit = 1u64 << k.min(63);
        let how = if k >= 63 { WRITE } else { how };
        for other in self.slots {
            if other.state.load(Ordering::Relaxed) == LIVE && other.born.load(Ordering::Relaxed) > born {
                match how {
                    READ => other.tainted_by_read.fetch_or(bit, Ordering::Relaxed),
                    RECEIVER => other.tainted_by_receiver.fetch_or(bit, Ordering::Relaxed),
                    _ => u64::from(other.tainted_by_write.swap(1, Ordering::Relaxed)),
                };
            }
        }
    }

    /// Whether a use of a binding of `kind` leaves it, and what borrows from
    /// it, in place: a by-value use copies a plain value or a shared
    /// reference, and a method call on a shared reference can neither move
    /// nor change it.
    fn harmless(kind: u8, used: u8) -> bool {
        if used & WRITE != 0 {
            return false;
        }
        let copy = kind & (PLAIN | SHARED_REF) != 0;
        let by_ref = kind & SHARED_REF != 0;
        (used & READ == 0 || copy) && (used & RECEIVER == 0 || by_ref)
    }

    /// Whether slot `s` can be read: bound, in scope, not used since other
    /// than harmlessly, and not bound after a binding used other than
    /// harmlessly (it may borrow from it).
    fn readable(&self, s: &Slot) -> bool {
        if s.state.load(Ordering::Relaxed) != LIVE
            || !Self::harmless(s.kind.load(Ordering::Relaxed), s.used.load(Ordering::Relaxed))
            || s.tainted_by_write.load(Ordering::Relaxed) != 0
        {
            return false;
        }
        let kind_of = |j: usize| self.slots.get(j).map_or(0, |o| o.kind.load(Ordering::Relaxed));
        let all = |mut by: u64, how: u8| {
            while by != 0 {
                if !Self::harmless(kind_of(by.trailing_zeros() as usize), how) {
                    return false;
                }
                by &= by - 1;
            }
            true
        };
        all(s.tainted_by_read.load(Ordering::Relaxed), READ)
            && all(s.tainted_by_receiver.load(Ordering::Relaxed), RECEIVER)
    }

    /// The frame fails here, at `line` (a `?`, `return` or tail with an
    /// `Err`): renders its readable bindings now.
    #[cold]
    #[inline(never)]
    pub fn fail(&self, line: u32) {
        self.line.store(line, Ordering::Relaxed);
        if let Some(t) = crate::tracker::get() {
            let rendered = crate::capture::with_state(crate::capture::State::Recording, || self.render(t));
            if let Ok(mut taken) = self.taken.lock() {
                *taken = Some(rendered);
            }
        }
    }

    /// A panic unwinds through the scope of a binding: renders the frame
    /// once, while every binding still in scope is alive.
    #[cold]
    #[inline(never)]
    pub fn unwinding(&self) {
        let done = self.taken.lock().map_or(true, |t| t.is_some());
        if !done && let Some(t) = crate::tracker::get() {
            let rendered = crate::capture::with_state(crate::capture::State::Recording, || self.render(t));
            if let Ok(mut taken) = self.taken.lock() {
                *taken = Some(rendered);
            }
        }
    }

    /// Each slot's binding, rendered (masked by name), or marked as moved
    /// when it was bound and used before; `None` when never bound or out of
    /// scope (a plain value is shown even then).
    fn render(&self, t: &Tracker) -> Vec<Option<Variable>> {
        let m = &*t.masking;
        self.slots
            .iter()
            .map(|s| {
                let state = s.state.load(Ordering::Relaxed);
                let render = s.render.load(Ordering::Relaxed);
                if state == UNSET || render.is_null() {
                    return None;
                }
                let name = s.name.load(Ordering::Relaxed);
                let readable = self.readable(s);
                let plain = s.kind.load(Ordering::Relaxed) & PLAIN != 0;
                if !readable && !plain && state == ENDED {
                    return None;
                }
                Some(crate::frames::named(t, self.site, name, |_| {
                    // SAFETY: `render` was stored by `bind` from a `RenderFn`
                    // chosen for the type the slot was bound to.
                    let render: RenderFn = unsafe { std::mem::transmute::<*mut (), RenderFn>(render) };
                    // SAFETY: the slot was bound to the render function's
                    // type, and `readable` is as the module docs require.
                    crate::capture::guarded(|| match unsafe { render(s, m, readable) } {
                        Ok(v) => v,
                        Err(type_name) => Value::String(format!("<moved or borrowed: {type_name}>")),
                    })
                    .unwrap_or_else(|| Value::String(crate::mask::RENDER_ERROR.to_owned()))
                }))
            })
            .collect()
    }

    /// The bindings rendered where the frame failed, else rendered now, and
    /// the line where it failed.
    pub fn bindings(&self, t: &Tracker) -> (Vec<Option<Variable>>, Option<u32>) {
        let taken = self.taken.lock().ok().and_then(|mut s| s.take());
        let rendered = taken.unwrap_or_else(|| self.render(t));
        let line = self.line.load(Ordering::Relaxed);
        (rendered, (line != 0).then_some(line))
    }
}

/// Ends a binding's slot when its scope ends; while the thread unwinds, it
/// first renders the frame (the first of a frame's guards to drop sees every
/// binding still in scope alive).
pub struct SlotGuard<'f, 'a> {
    frame: &'f Frame<'a>,
    k: usize,
}

impl<'f, 'a> SlotGuard<'f, 'a> {
    /// Guards binding `k` of `frame`.
    #[inline(always)]
    pub fn new(frame: &'f Frame<'a>, k: usize) -> Self {
        SlotGuard { frame, k }
    }
}

impl Drop for SlotGuard<'_, '_> {
    #[inline(always)]
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.frame.unwinding();
        }
        self.frame.ended(self.k);
    }
}

/// Binds a slot to a value whose type is certain where it is bound, with
/// the render function for that type (most specific first): plain values
/// (their bytes copied too), [`Unlocked`] types through `Serialize`, others
/// through `Debug`, then `Serialize`, then their type name.
pub trait BindViaPlain {
    /// Binds slot `k`.
    fn __error_tracker_bind(&self, frame: &Frame<'_>, k: usize, name: usize, shared_ref: bool);
}

impl<T: Plain> BindViaPlain for &&&&Wrap<'_, T> {
    #[inline(always)]
    fn __error_tracker_bind(&self, frame: &Frame<'_>, k: usize, name: usize, _: bool) {
        if let Some(s) = frame.slots.get(k)
            && size_of::<T>() <= BITS
            && align_of::<T>() <= align_of::<u64>()
        {
            // SAFETY: the destination holds `BITS` bytes aligned for u64,
            // and only this frame's code touches it (see `Sync`).
            unsafe { std::ptr::copy_nonoverlapping(self.0 as *const T, s.bits.get().cast::<T>(), 1) };
            frame.bind(k, name, self.0, render_plain::<T>, PLAIN);
        } else {
            frame.bind(k, name, self.0, render_debug::<T>, 0);
        }
    }
}

macro_rules! bind_via {
    ($trait:ident, $refs:ty, $bound:path, $render:ident) => {
        /// See [`BindViaPlain`].
        pub trait $trait {
            /// Binds slot `k`.
            fn __error_tracker_bind(&self, frame: &Frame<'_>, k: usize, name: usize, shared_ref: bool);
        }
        impl<T: $bound> $trait for $refs {
            #[inline(always)]
            fn __error_tracker_bind(&self, frame: &Frame<'_>, k: usize, name: usize, shared_ref: bool) {
                frame.bind(k, name, self.0, $render::<T>, if shared_ref { SHARED_REF } else { 0 });
            }
        }
    };
}
bind_via!(BindViaUnlocked, &&&Wrap<'_, T>, Unlocked, render_unlocked);
bind_via!(BindViaDebug, &&Wrap<'_, T>, Debug, render_debug);
bind_via!(BindViaSerialize, &Wrap<'_, T>, serde::Serialize, render_serialize);

/// See [`BindViaPlain`]: a value with none of those, shown by its type name.
pub trait BindViaName {
    /// Binds slot `k`.
    fn __error_tracker_bind(&self, frame: &Frame<'_>, k: usize, name: usize, shared_ref: bool);
}
impl<T> BindViaName for Wrap<'_, T> {
    #[inline(always)]
    fn __error_tracker_bind(&self, frame: &Frame<'_>, k: usize, name: usize, shared_ref: bool) {
        frame.bind(k, name, self.0, render_name::<T>, if shared_ref { SHARED_REF } else { 0 });
    }
}

/// Whether a typed binding is a shared reference `&U` (dispatch at the
/// binding, where its type is certain): its uses copy it, and a method call
/// on it can neither move nor change it.
pub trait IsSharedRef {
    /// `true`.
    fn __error_tracker_shared_ref(&self) -> bool;
}
impl<U: ?Sized> IsSharedRef for &Wrap<'_, &U> {
    #[inline(always)]
    fn __error_tracker_shared_ref(&self) -> bool {
        true
    }
}
/// See [`IsSharedRef`].
pub trait IsNotSharedRef {
    /// `false`.
    fn __error_tracker_shared_ref(&self) -> bool;
}
impl<T: ?Sized> IsNotSharedRef for Wrap<'_, T> {
    #[inline(always)]
    fn __error_tracker_shared_ref(&self) -> bool {
        false
    }
}
