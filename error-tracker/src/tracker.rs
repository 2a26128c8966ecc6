//! The global tracker: what [`init`](crate::init) installs, the bounded queue
//! to the writer, and the overflow counters that keep counts exact when the
//! queue is full.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError};

use crate::budget::{Admission, SiteSlot};
use crate::config::{Config, FingerprintFn};
use crate::context::RequestScope;
use crate::fingerprint::fold_key;
use crate::mask::Masking;
use crate::occurrence::EventId;
use crate::occurrence::{FrameSnapshot, Occurrence, Variable};
use crate::store::Store;

/// How many groups get an overflow counter of their own while the queue is full.
const MAX_OVERFLOW_KEYS: usize = 10_000;
/// Past that, how many exception names get a counter of their own.
const MAX_OVERFLOW_NAMES: usize = 1_000;
/// The message of the occurrence that stands for those counted past
/// [`MAX_OVERFLOW_KEYS`] (no digits, so that it is one group per name).
const UNGROUPED_MESSAGE: &str = "occurrences counted while the queue and the overflow counters were full; \
     their own groups, messages and stacks were not kept";
/// The exception name of the counter past [`MAX_OVERFLOW_NAMES`] too.
const UNGROUPED_NAME: &str = "error_tracker::Overflow";

/// An occurrence on its way to the writer, with its stack unresolved.
///
/// The writer fills in what the failing thread need not spend time on: the
/// occurrence's id text, the process's host, pid and release, and the
/// request's context.
pub(crate) struct Pending {
    /// The id returned to the caller; the writer writes it into `occurrence.id`.
    pub(crate) id: EventId,
    pub(crate) occurrence: Occurrence,
    pub(crate) ips: Vec<usize>,
    /// How many occurrences this one stands for (more than 1 after folding).
    pub(crate) times: u64,
    /// The request being served, whose context the writer adds if it
    /// stores this occurrence.
    pub(crate) request: Option<Arc<RequestScope>>,
    /// Whether outer tracked frames may still add their snapshots
    /// ([`Queued::Amend`]): the writer holds it until they are done or a
    /// short while passes.
    pub(crate) open: Open,
    /// The budget slot of its capture site, which learns the site's group
    /// from it (see `budget`).
    pub(crate) slot: Option<SiteSlot>,
}

/// Whether an occurrence waits for the snapshots of outer tracked frames.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Open {
    /// Complete: stored as it is.
    No,
    /// An error going up through tracked frames, each adding its snapshot
    /// a few microseconds after the one inside it.
    Chain,
    /// A panic, submitted by the panic hook before the hook installed
    /// before ours runs (std's may take long to print a backtrace); the
    /// unwinding starts after it, and the hook tells when ([`Queued::Amend`]
    /// with nothing), from when on it is held as a chain.
    Panic,
}

/// What goes through the queue to the writer, in order.
// Not boxed: the queue carries occurrences almost always, and a box would
// be one more allocation per capture on the failing thread.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Queued {
    Occurrence(Pending),
    /// The snapshot of an outer tracked frame that the occurrence `id` went
    /// through; `close`: no more will come.
    Amend {
        id: EventId,
        frame: Option<FrameSnapshot>,
        extra: Vec<Variable>,
        close: bool,
    },
    /// Sent by [`flush`](crate::flush) behind what it waits for: the writer
    /// tells [`Progress`] when everything before this token is stored.
    Flush(u64),
}

impl Pending {
    /// One new occurrence, with a new id.
    pub(crate) fn new(occurrence: Occurrence, ips: Vec<usize>, request: Option<Arc<RequestScope>>) -> Self {
        Pending { id: EventId::new_v4(), occurrence, ips, times: 1, request, open: Open::No, slot: None }
    }

    /// Counts `other` in this one.
    fn absorb(&mut self, other: &Pending) {
        self.times += other.times;
        self.occurrence.timestamp = self.occurrence.timestamp.max(other.occurrence.timestamp);
    }

    /// An occurrence that only counts: `exception_name`, the time, how many
    /// times, and a message saying why there is nothing else (see [`Overflow`]).
    fn ungrouped(self, exception_name: &str) -> Pending {
        let mut o = self.occurrence;
        o.exception_name = exception_name.to_owned();
        o.message = UNGROUPED_MESSAGE.to_owned();
        o.sources = Vec::new();
        o.thread = None;
        o.panic = None;
        o.frames = Vec::new();
        o.request = None;
        o.extra = Vec::new();
        o.breadcrumbs = Vec::new();
        o.spans = Vec::new();
        o.error_backtrace = Vec::new();
        Pending {
            id: self.id,
            occurrence: o,
            ips: Vec::new(),
            times: self.times,
            request: None,
            open: Open::No,
            slot: None,
        }
    }
}

/// The counters the queue overflows into, until the writer takes them.
///
/// Occurrences are counted per group, by the writer's own identity
/// ([`fold_key`]), so the counts land where the writer would have put each
/// occurrence. Memory stays bounded in a storm of distinct errors, and no
/// occurrence goes uncounted: past [`MAX_OVERFLOW_KEYS`] groups they are
/// counted per exception name, past [`MAX_OVERFLOW_NAMES`] names in one
/// counter, each stored as an occurrence of its own group that says so.
#[derive(Default)]
pub(crate) struct Overflow {
    groups: HashMap<u64, Pending>,
    names: HashMap<String, Pending>,
    rest: Option<Pending>,
}

impl Overflow {
    fn add(&mut self, key: u64, p: Pending) {
        if let Some(entry) = self.groups.get_mut(&key) {
            entry.absorb(&p);
        } else if self.groups.len() < MAX_OVERFLOW_KEYS {
            self.groups.insert(key, p);
        } else if let Some(entry) = self.names.get_mut(&p.occurrence.exception_name) {
            entry.absorb(&p);
        } else if self.names.len() < MAX_OVERFLOW_NAMES {
            let name = p.occurrence.exception_name.clone();
            let counter = p.ungrouped(&name);
            self.names.insert(name, counter);
        } else if let Some(entry) = &mut self.rest {
            entry.absorb(&p);
        } else {
            self.rest = Some(p.ungrouped(UNGROUPED_NAME));
        }
    }

    /// Everything counted so far, emptying the counters.
    pub(crate) fn take(&mut self) -> Vec<Pending> {
        let mut all: Vec<Pending> = self.groups.drain().map(|(_, p)| p).collect();
        all.extend(self.names.drain().map(|(_, p)| p));
        all.extend(self.rest.take());
        all
    }
}

/// The process-wide tracker.
pub struct Tracker {
    pub(crate) masking: Arc<dyn Masking>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) fingerprint: Option<Arc<FingerprintFn>>,
    pub(crate) in_app_prefixes: Vec<String>,
    pub(crate) host: String,
    pub(crate) pid: u32,
    pub(crate) release: Option<String>,
    /// Per capture site and second, how many occurrences are captured in
    /// detail; `None`: all (see `budget`).
    detail_budget: Option<u32>,
    pub(crate) config: Config,
    queue: Sender<Queued>,
    pub(crate) wake: Sender<()>,
    pub(crate) overflow: Mutex<Overflow>,
    pub(crate) progress: Progress,
}

/// What lets [`flush`](crate::flush) wait for what was recorded before it.
///
/// A flush sends a [`Queued::Flush`] token behind everything queued before
/// it, and waits for the writer to say that all it took before that token
/// is stored, open occurrences it holds included. It waits for those
/// occurrences themselves, not for a number of them: occurrences are stored
/// out of order (held ones, folded ones), so a count reached by later ones
/// says nothing of an earlier one.
pub(crate) struct Progress {
    /// Occurrences accepted (queued or folded); counted before they are sent.
    accepted: AtomicU64,
    /// The occurrences the writer is done with (stored, or given up), and
    /// the highest flush token it is done with.
    done: Mutex<Done>,
    done_changed: Condvar,
    /// The last flush token handed out.
    tokens: AtomicU64,
    /// Occurrences dropped: queued after the writer thread ended (it ends
    /// only by a panic of ours outside the guarded steps), or whose
    /// preparation panicked (a bug of ours). A full queue never drops one:
    /// see [`Overflow`].
    pub(crate) lost: AtomicU64,
    /// Write attempts that failed.
    pub(crate) write_failures: AtomicU64,
    /// Occurrences the store refused for good (a permanent error, alone in
    /// a write, several times): set aside by the writer, not stored.
    pub(crate) set_aside: AtomicU64,
    /// Groups deleted by retention, and the sum of their counts.
    pub(crate) pruned_groups: AtomicU64,
    pub(crate) pruned_occurrences: AtomicU64,
}

#[derive(Default)]
struct Done {
    occurrences: u64,
    flushed: u64,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            accepted: AtomicU64::new(0),
            done: Mutex::new(Done::default()),
            done_changed: Condvar::new(),
            tokens: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            write_failures: AtomicU64::new(0),
            set_aside: AtomicU64::new(0),
            pruned_groups: AtomicU64::new(0),
            pruned_occurrences: AtomicU64::new(0),
        }
    }
}

impl Progress {
    fn lock(&self) -> std::sync::MutexGuard<'_, Done> {
        self.done.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts `n` occurrences that reach the writer without the queue (the
    /// repeats counted by their site's budget).
    pub(crate) fn accept(&self, n: u64) {
        self.accepted.fetch_add(n, Ordering::SeqCst);
    }

    /// What the counters say now.
    pub(crate) fn stats(&self) -> crate::WriterStats {
        crate::WriterStats {
            lost: self.lost.load(Ordering::Relaxed),
            write_failures: self.write_failures.load(Ordering::Relaxed),
            set_aside: self.set_aside.load(Ordering::Relaxed),
            pruned_groups: self.pruned_groups.load(Ordering::Relaxed),
            pruned_occurrences: self.pruned_occurrences.load(Ordering::Relaxed),
        }
    }

    /// The writer is done with `n` more occurrences.
    pub(crate) fn finish(&self, n: u64) {
        self.lock().occurrences += n;
    }

    /// Everything the writer took before the flush token `token` is stored.
    pub(crate) fn flushed(&self, token: u64) {
        let mut done = self.lock();
        // Tokens may reach the queue out of order; a later one covers an
        // earlier one, whose flush started before it (see `Tracker::flush`).
        done.flushed = done.flushed.max(token);
        self.done_changed.notify_all();
    }

    /// Whether every occurrence accepted so far is done with.
    fn idle(&self) -> bool {
        // `done` first: it never counts one not yet in `accepted`, so equal
        // counts mean that every occurrence accepted is done with.
        // Repeats counted by their sites are accepted when the writer takes
        // them, before it takes them from their sites: looked at first,
        // none left means they are in `accepted` already.
        if crate::budget::has_repeats() {
            return false;
        }
        let done = self.lock().occurrences;
        done == self.accepted.load(Ordering::SeqCst)
    }

    fn wait_for(&self, token: u64, deadline: Option<Instant>) -> bool {
        let mut done = self.lock();
        while done.flushed < token {
            done = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return false;
                    }
                    self.done_changed.wait_timeout(done, left).unwrap_or_else(|p| p.into_inner()).0
                }
                None => self.done_changed.wait(done).unwrap_or_else(|p| p.into_inner()),
            };
        }
        true
    }
}

static TRACKER: OnceLock<Tracker> = OnceLock::new();

/// The installed tracker, or `None` before [`init`](crate::init) and while
/// the current thread is already recording.
#[inline]
pub(crate) fn get() -> Option<&'static Tracker> {
    let t = TRACKER.get()?;
    (crate::reentry::state() == crate::reentry::State::Outside).then_some(t)
}

/// The installed tracker, whatever the thread is doing.
pub(crate) fn installed() -> Option<&'static Tracker> {
    TRACKER.get()
}

/// Installs `t` as the process-wide tracker; `None` when one already is.
pub(crate) fn install(t: Tracker) -> Option<&'static Tracker> {
    let mut t = Some(t);
    let installed = TRACKER.get_or_init(|| t.take().expect("taken once"));
    t.is_none().then_some(installed)
}

impl Tracker {
    pub(crate) fn new(config: Config, store: Arc<dyn Store>, queue: Sender<Queued>, wake: Sender<()>) -> Self {
        Tracker {
            masking: config.get_masking(),
            store,
            fingerprint: config.fingerprint.clone(),
            in_app_prefixes: config.in_app_prefixes.clone(),
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            pid: std::process::id(),
            release: config.release.clone(),
            // A custom fingerprint may group one site's occurrences apart:
            // none is only counted then.
            detail_budget: Some(config.detail_budget.unwrap_or(config.occurrences_per_group))
                .filter(|&b| b != u32::MAX && config.fingerprint.is_none()),
            config,
            queue,
            wake,
            overflow: Mutex::new(Overflow::default()),
            progress: Progress::default(),
        }
    }

    /// Whether the occurrence of the capture site `key` is captured in
    /// detail, or only counted (see `budget`); then the request being
    /// served is marked as having recorded it, so that the web
    /// integrations do not record its response instead.
    #[inline]
    pub(crate) fn admit(&self, key: u64) -> Admission {
        let admission = crate::budget::admit(self.detail_budget, key);
        if matches!(admission, Admission::Counted) {
            crate::context::mark_request_recorded();
        }
        admission
    }

    /// Hands an occurrence to the writer without blocking, and returns its
    /// id. When the queue is full, folds it into the counter of its group.
    pub(crate) fn submit_pending(&self, p: Pending) -> EventId {
        let id = p.id;
        self.submit_queued(p);
        id
    }

    fn submit_queued(&self, p: Pending) {
        // Before it is sent: the writer may be done with it at once.
        self.progress.accepted.fetch_add(p.times, Ordering::SeqCst);
        match self.queue.try_send(Queued::Occurrence(p)) {
            Ok(()) => {}
            Err(TrySendError::Full(Queued::Occurrence(p))) => self.fold(p),
            Err(TrySendError::Disconnected(Queued::Occurrence(p))) => {
                self.progress.lost.fetch_add(p.times, Ordering::Relaxed);
                self.progress.finish(p.times);
            }
            Err(_) => {}
        }
    }

    /// Sends an outer frame's snapshot for the occurrence `id`, without
    /// blocking. With the queue full it is dropped: the occurrence is
    /// counted all the same, with the frames it had.
    pub(crate) fn amend(&self, id: EventId, frame: Option<FrameSnapshot>, extra: Vec<Variable>, close: bool) {
        if self.queue.try_send(Queued::Amend { id, frame, extra, close }).is_err() {
            let _ = self.wake.try_send(());
        }
    }

    /// Counts an occurrence in the overflow counters (see [`Overflow`]).
    fn fold(&self, p: Pending) {
        let key = fold_key(&p.occurrence, &p.ips, true);
        self.overflow.lock().unwrap_or_else(|e| e.into_inner()).add(key, p);
        let _ = self.wake.try_send(());
    }

    /// Waits until everything recorded before the call is stored, or
    /// `timeout` passes.
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        if self.progress.idle() {
            return true;
        }
        // `None`: a timeout too long for an `Instant`, so none.
        let deadline = Instant::now().checked_add(timeout);
        // Everything recorded before this call is in the queue ahead of this
        // token, or in the overflow counters, which the writer takes after
        // it takes the token. A token taken later is sent behind all that
        // too: whichever of the two the writer finishes first covers both.
        let token = self.progress.tokens.fetch_add(1, Ordering::SeqCst) + 1;
        // A full queue makes room as the writer drains it; a stalled writer
        // (a locked database) lets the deadline pass.
        let sent = match deadline {
            Some(d) => self.queue.send_deadline(Queued::Flush(token), d).is_ok(),
            None => self.queue.send(Queued::Flush(token)).is_ok(),
        };
        if !sent {
            return false;
        }
        self.progress.wait_for(token, deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An occurrence without a capture site (as the web integrations record
    /// them): its fold key is its stack and message.
    fn unsited(name: &str, i: usize) -> Pending {
        let o = crate::capture::base_occurrence(name.to_owned(), format!("failed {}", "x".repeat(i % 7)));
        Pending::new(o, vec![i, i + 1], None)
    }

    #[test]
    fn past_the_caps_the_overflow_counts_coarser_and_never_drops() {
        let mut overflow = Overflow::default();
        let n = MAX_OVERFLOW_KEYS * 3;
        for i in 0..n {
            let name = format!("E{}", i % (MAX_OVERFLOW_NAMES + 10));
            let p = unsited(&name, i);
            overflow.add(crate::fingerprint::fold_key(&p.occurrence, &p.ips, true), p);
        }
        let all = overflow.take();
        assert_eq!(all.iter().map(|p| p.times).sum::<u64>(), n as u64, "every occurrence counted");
        assert!(all.len() <= MAX_OVERFLOW_KEYS + MAX_OVERFLOW_NAMES + 1, "bounded: {}", all.len());
        assert!(all.iter().any(|p| p.occurrence.exception_name == UNGROUPED_NAME), "the last counter is used");
    }
}
