//! Tracked frames: the per-thread stack of `#[track_exception]` frames whose
//! arguments and locals are attached to the occurrence when they fail.

use crate::tracker::Pending;

/// Called by the panic hook. Returns the occurrence to submit now, or `None`
/// when tracked frames on the stack will add their snapshots while unwinding
/// and submit it themselves.
pub(crate) fn on_panic(pending: Pending) -> Option<Pending> {
    Some(pending)
}
