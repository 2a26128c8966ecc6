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
//! readable binding bound after it and before the mark, since those may
//! borrow from it (`let s = owned.as_str(); drop(owned);`), except when it
//! was only read and is plain: a copy leaves it in place. Plain values
//! ([`Plain`]) keep a copy of their bytes, so they are always shown.
//!
//! The happy path pays for this with a few plain writes per binding: a mark
//! writes the frame's clock (the number of bindings made so far) into the
//! slot, and which bindings a mark taints is worked out from those clocks
//! only where the frame fails.
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

use std::cell::{Cell, UnsafeCell};
use std::fmt::Debug;
use std::mem::{MaybeUninit, align_of, size_of};

use crate::json::Value;

use crate::__private::Wrap;
use crate::budget::{Admission, SiteSlot};
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
///
/// Plain cells, not atomics: only the frame's own code touches its slots
/// (see `Sync` below), and a `let` then costs one write of a few words that
/// the compiler merges, or drops when nothing can read them.
pub struct Slot {
    state: UnsafeCell<Binding>,
    bits: UnsafeCell<MaybeUninit<[u64; BITS / 8]>>,
}

#[derive(Clone, Copy)]
struct Binding {
    ptr: *const (),
    /// `None`: never bound.
    render: Option<RenderFn>,
    /// The binding's index in the site's names.
    name: usize,
    /// The frame's clock when it was bound.
    born: u32,
    state: u8,
    /// Bit 0: the type is `Plain`; bit 1: it is a shared reference.
    kind: u8,
    /// Whether a binding written or ended (or past 63) tainted it.
    tainted_by_write: bool,
    /// The frame's clock at its latest use of each kind since it was bound
    /// (read, receiver, written; 0: none). A binding bound at or before
    /// that clock, and after this one, may borrow from it.
    last_use: [u32; 3],
    /// Taints carried over from an earlier binding of another slot (see
    /// [`Frame::carry_taints`]): bit k, binding k was used by value...
    tainted_by_read: u64,
    /// ... or as a method's receiver.
    tainted_by_receiver: u64,
}

const PLAIN: u8 = 1;
const SHARED_REF: u8 = 2;
const READ: u8 = 1;
const RECEIVER: u8 = 2;
const WRITE: u8 = 4;
/// The uses, in the order of `Binding::last_use`.
const USES: [u8; 3] = [READ, RECEIVER, WRITE];

// SAFETY: a frame's slots are written and read only by the code of that
// frame: the thread running a sync fn, or the thread polling an async fn's
// future, never two at once (a future is polled by one thread at a time,
// and the executor synchronizes the hand-over). The pointer is dereferenced
// only under the conditions of the module docs, and only to render a value
// by the function chosen for its type, which for a non-`Plain` type reads it
// only while its frame runs on the thread that owns it.
unsafe impl Sync for Slot {}
// SAFETY: as for `Slot`: the pointer is only read by the frame's own code.
unsafe impl Send for Slot {}

impl Slot {
    /// A slot not bound yet.
    #[allow(clippy::declare_interior_mutable_const)] // a fresh slot per array element is the point
    pub const NEW: Slot = Slot {
        state: UnsafeCell::new(Binding {
            ptr: std::ptr::null(),
            render: None,
            name: 0,
            born: 0,
            state: UNSET,
            kind: 0,
            tainted_by_write: false,
            last_use: [0; 3],
            tainted_by_read: 0,
            tainted_by_receiver: 0,
        }),
        bits: UnsafeCell::new(MaybeUninit::uninit()),
    };

    /// The binding's state, copied.
    #[inline(always)]
    fn get(&self) -> Binding {
        // SAFETY: only the frame's own code touches the cell (see `Sync`),
        // and no reference into it outlives these accessors.
        unsafe { *self.state.get() }
    }

    /// Changes the binding's state.
    #[inline(always)]
    fn change(&self, f: impl FnOnce(&mut Binding)) {
        // SAFETY: as in `get`: no other reference into the cell exists now.
        f(unsafe { &mut *self.state.get() })
    }

    /// The uses since it was bound, as `READ | RECEIVER | WRITE` bits.
    fn used(b: &Binding) -> u8 {
        b.last_use.iter().zip(USES).filter(|(last, _)| **last != 0).fold(0, |used, (_, how)| used | how)
    }

    /// The value, for a render function chosen for its type `T`.
    ///
    /// # Safety
    /// The slot was bound to a `T` and is readable.
    unsafe fn value<T>(&self) -> &T {
        // SAFETY: by the caller's contract.
        unsafe { &*self.get().ptr.cast::<T>() }
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
    let v: T = if readable { unsafe { *slot.value::<T>() } } else { unsafe { slot.copy::<T>() } };
    Ok(v.__error_tracker_render_plain(m))
}
unsafe fn render_unlocked<T: Unlocked>(slot: &Slot, m: &dyn Masking, readable: bool) -> Result<Value, &'static str> {
    if !readable {
        return Err(std::any::type_name::<T>());
    }
    // SAFETY: bound to a `T` by `bind_via`, and readable.
    Ok(crate::mask::render_serialize(m, unsafe { slot.value::<T>() }))
}
unsafe fn render_debug<T: Debug>(slot: &Slot, m: &dyn Masking, readable: bool) -> Result<Value, &'static str> {
    if !readable {
        return Err(std::any::type_name::<T>());
    }
    // SAFETY: as above.
    let value: &dyn Debug = unsafe { slot.value::<T>() };
    // Through `dyn Debug`: one copy of the renderer (and its panic guard)
    // for every type, not one per type.
    Ok(crate::mask::render_debug::<dyn Debug>(m, value))
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
    Ok(crate::mask::render_serialize(m, unsafe { slot.value::<T>() }))
}
unsafe fn render_name<T>(_: &Slot, _: &dyn Masking, readable: bool) -> Result<Value, &'static str> {
    name_value(std::any::type_name::<T>(), readable)
}
fn name_value(name: &'static str, readable: bool) -> Result<Value, &'static str> {
    if readable { Ok(Value::String(format!("<{name}>"))) } else { Err(name) }
}

/// The shared part of a tracked frame's bindings: their slots, and what was
/// rendered where the frame failed.
pub struct Frame<'a> {
    site: &'a Site,
    slots: &'a [Slot],
    /// Counts the bindings made: a binding's birth, and the time of a use.
    clock: Cell<u32>,
    /// The line of the `?`, `return` or tail where the frame failed (0: none).
    line: Cell<u32>,
    /// What the site's detail budget decided where the frame failed (see
    /// [`Frame::admission`]); 0: not decided there.
    admission: Cell<u32>,
    taken: Cell<Option<Vec<Option<Variable>>>>,
}

// SAFETY: as for `Slot`: a frame is used by its own code only, on one
// thread at a time.
unsafe impl Sync for Frame<'_> {}

impl<'a> Frame<'a> {
    /// The frame of the tracked function at `site`, whose bindings are `slots`.
    #[inline(always)]
    pub fn new(site: &'a Site, slots: &'a [Slot]) -> Self {
        Frame { site, slots, clock: Cell::new(0), line: Cell::new(0), admission: Cell::new(0), taken: Cell::new(None) }
    }

    /// Whether the frame's failure is captured in detail: as decided where
    /// it failed, else now, by the budget of its site (its fn, the line it
    /// fails at, and `ret_name`, its return type's name).
    pub(crate) fn admission(&self, t: &Tracker, ret_name: &'static str) -> Admission {
        match self.admission.get() {
            0 => self.admit(t, ret_name),
            1 => Admission::Counted,
            n => Admission::Detail(SiteSlot::from_index(n - 2)),
        }
    }

    fn admit(&self, t: &Tracker, ret_name: &'static str) -> Admission {
        t.admit(crate::budget::key(std::ptr::from_ref(self.site).cast(), ret_name, self.line.get()))
    }

    /// Binds slot `k`, the name at `name`, to `value`, rendered by `render`.
    #[inline(always)]
    fn bind<T>(&self, k: usize, name: usize, value: &T, render: RenderFn, kind: u8) {
        self.bind_erased(k, name, (value as *const T).cast(), render, kind);
    }

    /// [`Frame::bind`] without its type: one copy of it per crate, not one
    /// per binding's type (or, inlined, per binding) in the user's code.
    #[inline]
    fn bind_erased(&self, k: usize, name: usize, ptr: *const (), render: RenderFn, kind: u8) {
        let Some(s) = self.slots.get(k) else { return };
        let now = self.clock.get() + 1;
        self.clock.set(now);
        let old = s.get();
        if old.state == LIVE && old.last_use.iter().any(|&last| last > old.born) {
            self.carry_taints(k);
        }
        s.change(|b| {
            *b = Binding {
                ptr,
                render: Some(render),
                name,
                born: now,
                state: LIVE,
                kind,
                tainted_by_write: false,
                last_use: [0; 3],
                tainted_by_read: 0,
                tainted_by_receiver: 0,
            }
        });
    }

    /// Binding `k` is bound again (`x = …`) after uses that taint bindings
    /// made since: those taints are kept on them, as its uses are reset.
    /// (A binding bound again after its scope ended needs none: whatever
    /// was bound after it, in its scope, ended before it.)
    #[cold]
    #[inline(never)]
    fn carry_taints(&self, k: usize) {
        let s = self.slots[k].get();
        let bit = 1u64 << k.min(63);
        for (j, other) in self.slots.iter().enumerate() {
            let o = other.get();
            if j == k || o.state != LIVE || o.born <= s.born {
                continue;
            }
            for (&last, how) in s.last_use.iter().zip(USES) {
                if last < o.born {
                    continue;
                }
                other.change(|o| match if k >= 63 { WRITE } else { how } {
                    READ => o.tainted_by_read |= bit,
                    RECEIVER => o.tainted_by_receiver |= bit,
                    _ => o.tainted_by_write = true,
                });
            }
        }
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
        self.used(k, 0);
    }

    /// Binding `k` is the receiver of a method call in the next statement:
    /// it may be moved, written or mutably borrowed, unless it is a shared
    /// reference.
    #[inline(always)]
    pub fn receiver(&self, k: usize) {
        self.used(k, 1);
    }

    /// Binding `k` may be written or mutably borrowed by the next statement.
    #[inline(always)]
    pub fn written(&self, k: usize) {
        self.used(k, 2);
    }

    /// The scope of bindings `first..end` ends.
    #[inline(always)]
    fn ended(&self, first: usize, end: usize) {
        let now = self.clock.get();
        for s in self.slots.get(first..end).unwrap_or_default() {
            s.change(|b| {
                if b.state != UNSET {
                    b.last_use[2] = now;
                    b.state = ENDED;
                }
            });
        }
    }

    /// Records a use of binding `k`, of kind `USES[how]`, at the clock's
    /// time: one write. Which bindings it taints is decided where the frame
    /// fails (`readable`).
    #[inline(always)]
    fn used(&self, k: usize, how: usize) {
        let now = self.clock.get();
        if let Some(s) = self.slots.get(k) {
            s.change(|b| b.last_use[how] = now);
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

    /// Whether slot `k` can be read: bound, in scope, not used since other
    /// than harmlessly, and not bound after a binding used other than
    /// harmlessly since (it may borrow from it).
    fn readable(&self, k: usize) -> bool {
        let s = self.slots[k].get();
        if s.state != LIVE || !Self::harmless(s.kind, Slot::used(&s)) || s.tainted_by_write {
            return false;
        }
        let kind_of = |j: usize| self.slots.get(j).map_or(0, |o| o.get().kind);
        let all = |mut by: u64, how: u8| {
            while by != 0 {
                if !Self::harmless(kind_of(by.trailing_zeros() as usize), how) {
                    return false;
                }
                by &= by - 1;
            }
            true
        };
        if !all(s.tainted_by_read, READ) || !all(s.tainted_by_receiver, RECEIVER) {
            return false;
        }
        // The bindings bound before it and used since it was bound.
        self.slots.iter().enumerate().all(|(j, other)| {
            let o = other.get();
            j == k
                || o.state == UNSET
                || o.born >= s.born
                || o.last_use.iter().zip(USES).all(|(&last, how)| last < s.born || Self::harmless(o.kind, how))
        })
    }

    /// The frame fails here, at `line` (a `?`, `return` or tail with an
    /// `Err`): renders its readable bindings now, unless its site's budget
    /// (decided here when the fn's return type could be named, `ret_name`)
    /// says this failure is only counted.
    #[cold]
    #[inline(never)]
    pub fn fail(&self, line: u32, ret_name: Option<&'static str>) {
        self.line.set(line);
        if let Some(t) = crate::tracker::get() {
            // An error of the frame just inside goes up through this one
            // (as the exit will see it): nothing to decide, and when that
            // one was only counted, nothing to render either.
            let inner = crate::frames::inner_failure();
            if inner == Some(true) {
                return;
            }
            if let Some(ret_name) = ret_name.filter(|_| inner.is_none()) {
                let admission = self.admit(t, ret_name);
                self.admission.set(match admission {
                    Admission::Counted => 1,
                    Admission::Detail(slot) => slot.map_or(u32::MAX, |s| s.index() + 2),
                });
                if matches!(admission, Admission::Counted) {
                    return;
                }
            }
            let rendered = crate::capture::with_state(crate::capture::State::Recording, || self.render(t));
            self.taken.set(Some(rendered));
        }
    }

    /// A panic unwinds through the scope of a binding: renders the frame
    /// once, while every binding still in scope is alive.
    #[cold]
    #[inline(never)]
    pub fn unwinding(&self) {
        // No panic to add the frame to (its site only counted it): render nothing.
        if !crate::frames::panic_open() {
            return;
        }
        let taken = self.taken.take();
        let rendered = match (taken, crate::tracker::get()) {
            (Some(done), _) => Some(done),
            (None, Some(t)) => Some(crate::capture::with_state(crate::capture::State::Recording, || self.render(t))),
            (None, None) => None,
        };
        self.taken.set(rendered);
    }

    /// Each slot's binding, rendered (masked by name), or marked as moved
    /// when it was bound and used before; `None` when never bound or out of
    /// scope (a plain value is shown even then).
    fn render(&self, t: &Tracker) -> Vec<Option<Variable>> {
        let m = &*t.masking;
        (0..self.slots.len())
            .map(|k| {
                let s = &self.slots[k];
                let b = s.get();
                let render = b.render?;
                if b.state == UNSET {
                    return None;
                }
                let readable = self.readable(k);
                if !readable && b.kind & PLAIN == 0 && b.state == ENDED {
                    return None;
                }
                Some(crate::frames::named(t, self.site, b.name, &mut |_| {
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
        let rendered = self.taken.take().unwrap_or_else(|| self.render(t));
        let line = self.line.get();
        (rendered, (line != 0).then_some(line))
    }
}

/// Ends a binding's slot when its scope ends; while the thread unwinds, it
/// first renders the frame (the first of a frame's guards to drop sees every
/// binding still in scope alive).
///
/// One guard per `let` (or for all the owned arguments): the bindings it
/// ends are those of one pattern, bound together.
pub struct SlotGuard<'f, 'a> {
    frame: &'f Frame<'a>,
    first: usize,
    end: usize,
}

impl<'f, 'a> SlotGuard<'f, 'a> {
    /// Guards bindings `first..first + n` of `frame`.
    #[inline(always)]
    pub fn new(frame: &'f Frame<'a>, first: usize, n: usize) -> Self {
        SlotGuard { frame, first, end: first + n }
    }
}

impl Drop for SlotGuard<'_, '_> {
    #[inline(always)]
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.frame.unwinding();
        }
        self.frame.ended(self.first, self.end);
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

#[cfg(test)]
mod tests {
    use super::*;

    static SITE: Site = Site::new("f.rs", 1, &["a", "b", "c"]);

    fn frame(slots: &[Slot]) -> Frame<'_> {
        Frame::new(&SITE, slots)
    }

    fn readable(f: &Frame<'_>) -> Vec<bool> {
        (0..f.slots.len()).map(|k| f.readable(k)).collect()
    }

    #[test]
    fn a_use_taints_the_bindings_made_after_it_was_bound_and_before_the_use() {
        let slots = [Slot::NEW, Slot::NEW, Slot::NEW];
        let f = frame(&slots);
        let (a, b, c) = (String::from("a"), 1u8, 2u8);
        f.bind_unknown(0, 0, &a);
        f.bind_unknown(1, 1, &b);
        assert_eq!(readable(&f), [true, true, false]);
        f.receiver(0); // `a.push(..)`: b may borrow a
        f.bind_unknown(2, 2, &c); // bound after the use: not tainted by it
        assert_eq!(readable(&f), [false, false, true]);
    }

    #[test]
    fn harmless_uses_taint_nothing() {
        let slots = [Slot::NEW, Slot::NEW];
        let f = frame(&slots);
        let (a, b) = (&1u32, 2u32);
        (&&&&Wrap(&a)).__error_tracker_bind(&f, 0, 0, true); // a shared reference
        (&&&&&Wrap(&b)).__error_tracker_bind(&f, 1, 1, false); // plain
        f.read(0);
        f.receiver(0);
        f.read(1);
        assert_eq!(readable(&f), [true, true]);
        f.written(1);
        assert_eq!(readable(&f), [true, false]);
    }

    #[test]
    fn binding_again_keeps_the_taints_of_the_earlier_uses() {
        let slots = [Slot::NEW, Slot::NEW];
        let f = frame(&slots);
        let (mut a, b) = (String::from("a"), String::from("b"));
        f.bind_unknown(0, 0, &a);
        f.bind_unknown(1, 1, &b);
        f.written(0); // `a = …`: b may have borrowed the old a
        a.push('!');
        f.bind_unknown(0, 0, &a);
        assert_eq!(readable(&f), [true, false]);
    }

    #[test]
    fn an_ended_binding_is_not_read_and_a_loop_binds_it_afresh() {
        let slots = [Slot::NEW, Slot::NEW];
        let f = frame(&slots);
        let a = String::from("a");
        f.bind_unknown(0, 0, &a);
        for i in 0..3u8 {
            f.bind_unknown(1, 1, &i);
            f.receiver(1);
            assert_eq!(readable(&f), [true, false]);
            f.ended(1, 2);
        }
        assert_eq!(readable(&f), [true, false]);
        assert!(f.slots[1].get().state == ENDED);
    }
}
