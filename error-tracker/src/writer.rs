//! The background writer: one thread that symbolizes, masks, fingerprints
//! and stores what the capture path queued, in batched transactions.

use std::collections::{HashMap, VecDeque};
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, select};

use crate::budget::SiteSlot;
use crate::capture::{self, State};
use crate::fingerprint::{default_fingerprint, fold_key};
use crate::mask::scrub_occurrence;
use crate::notify::Dispatcher;
use crate::occurrence::EventId;
use crate::occurrence::Occurrence;
use crate::store::{Grouped, StoreError, StoreErrorKind};
use crate::symbolize::Symbolizer;
use crate::timestamp::Timestamp;
use crate::tracker::{Open, Pending, Queued, Tracker};

/// The most occurrences written in one transaction.
const MAX_BATCH: usize = 4096;
/// The most occurrences taken from the queue for one transaction.
const MAX_PULLS: usize = 64 * 1024;
/// How long the writer sleeps when there is nothing to do.
const IDLE_WAKE: Duration = Duration::from_millis(250);
/// How often the writer enforces the retention limits. A storm of distinct
/// groups can write hundreds of MB a minute; the check itself is a count and
/// a look at the page counts.
const PRUNE_INTERVAL: Duration = Duration::from_secs(10);
/// The first pause after a failed write.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// How many times a part of a batch is written while the store refuses it
/// (a permanent error) before it is split or set aside.
const PERMANENT_ATTEMPTS: u32 = 3;
/// The longest pause between two attempts at a failing write.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// While occurrences keep coming, the shortest time between two writes.
///
/// The first occurrence after a quiet spell is written at once. In a storm,
/// the writer gathers for this long before it writes, so that a batch holds
/// many repeats of each error: past `occurrences_per_group` of one stack in a
/// batch, repeats are only counted (see `Writer::take`). That bounds what a
/// storm of one error stores, and costs the app, to a few batches per second
/// instead of one full row per occurrence.
const STORM_WRITE_INTERVAL: Duration = Duration::from_millis(100);
/// How often the writer drains the queue while it gathers a storm's batch.
const STORM_POLL: Duration = Duration::from_millis(5);
/// How long an occurrence is held for the next snapshot of the outer
/// tracked frames it goes through (usually microseconds away): past that it
/// is stored with the frames it has.
const HOLD: Duration = Duration::from_millis(200);
/// How long a panic's occurrence is held for the panic hook installed
/// before ours to return (see [`Open::Panic`]): std's symbolizes and prints
/// a backtrace under `RUST_BACKTRACE`, which takes seconds in a big binary
/// with debug info on a loaded machine. A hook that never returns leaves the
/// occurrence stored with no tracked frames after this.
const PANIC_HOOK_HOLD: Duration = Duration::from_secs(30);
/// How long an open occurrence is held at least while a `flush` waits.
const FLUSH_HOLD: Duration = Duration::from_millis(50);
/// How often the writer looks at what it holds.
const HOLD_POLL: Duration = Duration::from_millis(10);
/// How often the capture sites get their detail budget back: each may
/// capture `occurrences_per_group` in detail per period (see `budget`).
const BUDGET_PERIOD: Duration = Duration::from_secs(1);

pub(crate) fn spawn(
    t: &'static Tracker,
    queue: Receiver<Queued>,
    wake: Receiver<()>,
    notify: Option<Dispatcher>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("error-tracker-writer".into())
        .spawn(move || capture::with_state(State::Recording, || Writer::new(t, notify).run(&queue, &wake)))?;
    Ok(())
}

struct Writer {
    t: &'static Tracker,
    symbolizer: Symbolizer,
    batch: Vec<Grouped>,
    last_log: Option<Instant>,
    /// The notification policy and the queue to the notification worker.
    notify: Option<Dispatcher>,
    /// Per exception name and raw stack, what this batch already holds of
    /// it (see `take`).
    in_batch: HashMap<u64, InBatch>,
    /// When the last write ended.
    last_write: Option<Instant>,
    /// When retention was last enforced (see `prune`).
    last_prune: Option<Instant>,
    /// Open occurrences, waiting for the snapshots of outer tracked frames.
    held: HashMap<EventId, (Pending, Instant)>,
    /// The flushes waiting, in the order their tokens came.
    flushes: VecDeque<FlushWait>,
    /// The group of each capture site whose occurrences it stored (see
    /// `budget`), for the repeats its site only counts.
    sites: HashMap<SiteSlot, SiteGroup>,
    /// When the sites last got their detail budget back.
    budget_given: Instant,
}

/// What the writer knows of a capture site's group.
struct SiteGroup {
    hash: String,
    fold_key: u64,
    /// The site's first stored occurrence, without its frames, stack,
    /// request and extras: what a count-only entry carries.
    summary: Occurrence,
}

/// A flush whose token the writer has taken: it is done once what was
/// taken before the token is written (at the end of the loop's turn) and
/// these open occurrences, held then, are released and written too.
struct FlushWait {
    token: u64,
    held: Vec<EventId>,
}

/// The occurrences of one fold key in the current batch.
struct InBatch {
    /// The index in the batch of the latest one.
    latest: usize,
    /// How many are stored in full.
    stored: u32,
    /// Whether the fold key alone decides the group (the default
    /// fingerprint, from the compiler's sites or else in-app frames), so
    /// that repeats can be folded without fingerprinting them.
    stack_decides: bool,
}

impl Writer {
    fn new(t: &'static Tracker, notify: Option<Dispatcher>) -> Self {
        Writer {
            t,
            symbolizer: Symbolizer::new(t.in_app_prefixes.clone()),
            batch: Vec::new(),
            last_log: None,
            notify,
            in_batch: HashMap::new(),
            last_write: None,
            last_prune: None,
            held: HashMap::new(),
            flushes: VecDeque::new(),
            sites: HashMap::new(),
            budget_given: Instant::now(),
        }
    }

    fn run(mut self, queue: &Receiver<Queued>, wake: &Receiver<()>) {
        loop {
            select! {
                recv(queue) -> p => match p {
                    Ok(p) => self.take_queued(p),
                    Err(_) => return,
                },
                recv(wake) -> _ => {},
                default(if self.held.is_empty() { IDLE_WAKE } else { HOLD_POLL }) => {},
            }
            // Folded repeats do not grow the batch: bound the pulls too, so
            // that a storm that never empties the queue still gets written.
            let mut pulls = 0;
            while self.batch.len() < MAX_BATCH && pulls < MAX_PULLS {
                match queue.try_recv() {
                    Ok(p) => self.take_queued(p),
                    Err(_) => break,
                }
                pulls += 1;
            }
            self.gather_storm(queue, wake, pulls);
            let folded = self.t.overflow.lock().unwrap_or_else(|e| e.into_inner()).take();
            for p in folded {
                self.take_guarded(p);
            }
            self.release_held();
            self.take_repeats();
            self.write();
            // Before the flushes are told: a flush (the guard's, at exit)
            // then finds the store idle.
            self.prune();
            self.finish_flushes();
        }
    }

    /// Tells the flushes that are done so. Everything taken before their
    /// tokens is written by now, except what is still held.
    fn finish_flushes(&mut self) {
        let Writer { flushes, held, t, .. } = self;
        while let Some(f) = flushes.front_mut() {
            f.held.retain(|id| held.contains_key(id));
            if !f.held.is_empty() {
                // A later flush waits for these too: it waits in line.
                return;
            }
            t.progress.flushed(f.token);
            flushes.pop_front();
        }
    }

    /// In a storm (the last write ended less than [`STORM_WRITE_INTERVAL`]
    /// ago), keeps taking occurrences until that interval has passed, the
    /// batch is full, [`flush`](crate::flush) waits, or a full queue wakes
    /// the writer. It drains the queue every [`STORM_POLL`] rather than wait on
    /// it, so that the failing threads never have to wake the writer.
    fn gather_storm(&mut self, queue: &Receiver<Queued>, wake: &Receiver<()>, mut pulls: usize) {
        let Some(deadline) = self.last_write.map(|t| t + STORM_WRITE_INTERVAL) else { return };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.batch.len() >= MAX_BATCH || pulls >= MAX_PULLS {
                return;
            }
            let woken = select! {
                recv(wake) -> _ => true,
                default(left.min(STORM_POLL)) => false,
            };
            while self.batch.len() < MAX_BATCH && pulls < MAX_PULLS {
                match queue.try_recv() {
                    Ok(p) => self.take_queued(p),
                    Err(_) => break,
                }
                pulls += 1;
            }
            if woken || !self.flushes.is_empty() {
                return;
            }
        }
    }

    /// [`take`](Self::take), and should it panic (a bug of ours), the
    /// occurrence is counted as lost and the writer goes on.
    fn take_queued(&mut self, q: Queued) {
        match q {
            Queued::Occurrence(p) if p.open != Open::No => {
                self.held.insert(p.id, (p, Instant::now()));
            }
            Queued::Occurrence(p) => self.take_guarded(p),
            Queued::Amend { id, frame, extra, close } => {
                // Not held: folded while the queue was full, or released
                // already; its count is kept, this frame is not.
                let Some((p, since)) = self.held.get_mut(&id) else { return };
                p.occurrence.frames.extend(frame);
                p.occurrence.extra.extend(extra);
                // Held for `HOLD` past the last news of its chain, not of
                // its start: a chain that is still going is not cut.
                p.open = Open::Chain;
                *since = Instant::now();
                if close && let Some((p, _)) = self.held.remove(&id) {
                    self.take_guarded(p);
                }
            }
            Queued::Flush(token) => {
                let held = self.held.keys().copied().collect();
                self.flushes.push_back(FlushWait { token, held });
            }
        }
    }

    /// Stores the open occurrences held past [`HOLD`], or past
    /// [`FLUSH_HOLD`] while a `flush` waits (a chain still open then is
    /// stored with the frames it has).
    fn release_held(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let flushing = !self.flushes.is_empty();
        let now = Instant::now();
        let due: Vec<EventId> = self
            .held
            .iter()
            .filter(|(_, (p, since))| {
                let age = now.duration_since(*since);
                // A flush does not cut the wait for a panic hook: the
                // unwinding has not started, not one tracked frame is in.
                let hold = match p.open {
                    Open::Panic => PANIC_HOOK_HOLD,
                    _ if flushing => FLUSH_HOLD,
                    _ => HOLD,
                };
                age >= hold
            })
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            if let Some((p, _)) = self.held.remove(&id) {
                self.take_guarded(p);
            }
        }
    }

    fn take_guarded(&mut self, p: Pending) {
        let times = p.times;
        if catch_unwind(AssertUnwindSafe(|| self.take(p))).is_err() {
            self.t.progress.lost.fetch_add(times, Ordering::Relaxed);
            self.t.progress.finish(times);
            self.log_failure(&"its preparation panicked", 1, "dropped (counted as lost)");
        }
    }

    /// Symbolizes, masks, adds the request's context to, and fingerprints
    /// one occurrence into the batch.
    ///
    /// In a storm, a batch may hold thousands of repeats of one error; the
    /// store keeps only the newest `occurrences_per_group` of them anyway. So
    /// past that many, a repeat whose group is decided by its stack is folded
    /// into the latest one's count without being symbolized, masked,
    /// fingerprinted or given its request's context: the writer keeps up,
    /// and every occurrence is counted.
    fn take(&mut self, p: Pending) {
        // Only folded where the key decides the group (`stack_decides`).
        let key = fold_key(&p.occurrence, &p.ips, false);
        if let Some(seen) = self.in_batch.get(&key)
            && seen.stack_decides
            && seen.stored >= self.t.config.occurrences_per_group
        {
            let latest = &mut self.batch[seen.latest];
            latest.times += p.times;
            latest.occurrence.timestamp = latest.occurrence.timestamp.max(p.occurrence.timestamp);
            return;
        }
        let Pending { id, mut occurrence, ips, times, request, open: _, slot } = p;
        occurrence.id = id.to_string();
        occurrence.host.clone_from(&self.t.host);
        occurrence.pid = self.t.pid;
        occurrence.release.clone_from(&self.t.release);
        occurrence.backtrace = self.symbolizer.resolve(&ips).to_vec();
        crate::symbolize::add_static_sites(&mut occurrence);
        if let Some(scope) = request
            && occurrence.request.is_none()
        {
            occurrence.request =
                Some(scope.context(self.t.config.context_builder.as_deref(), &*self.t.masking).clone());
        }
        scrub_occurrence(&*self.t.masking, &mut occurrence);
        let hash = match &self.t.fingerprint {
            Some(f) => catch_unwind(AssertUnwindSafe(|| f(&occurrence)))
                .ok()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| default_fingerprint(&occurrence)),
            None => default_fingerprint(&occurrence),
        };
        let stack_decides = self.t.fingerprint.is_none()
            && (crate::fingerprint::sites_decide(&occurrence) || occurrence.backtrace.iter().any(|f| f.in_app));
        // The site's group, for the repeats it only counts (see `budget`).
        if let Some(slot) = slot
            && stack_decides
            && !self.sites.contains_key(&slot)
        {
            let summary = Occurrence {
                backtrace: Vec::new(),
                frames: Vec::new(),
                request: None,
                extra: Vec::new(),
                breadcrumbs: Vec::new(),
                spans: Vec::new(),
                error_backtrace: Vec::new(),
                ..occurrence.clone()
            };
            self.sites.insert(slot, SiteGroup { hash: hash.clone(), fold_key: key, summary });
        }
        self.batch.push(Grouped { hash, occurrence, times, count_only: false });
        let seen = self.in_batch.entry(key).or_insert(InBatch { latest: 0, stored: 0, stack_decides });
        seen.latest = self.batch.len() - 1;
        seen.stored += 1;
    }

    /// Adds the repeats the capture sites counted (past their detail
    /// budget) to the batch: to the count of their group's latest
    /// occurrence in it, else as a count-only entry. Once a second, gives
    /// the sites their budget back.
    fn take_repeats(&mut self) {
        let now = Instant::now();
        let new_budget = now.duration_since(self.budget_given) >= BUDGET_PERIOD;
        if new_budget {
            self.budget_given = now;
        }
        let at = Timestamp::now();
        let Writer { sites, batch, in_batch, t, .. } = self;
        crate::budget::take_repeats(new_budget, |slot, n| {
            // Not known yet: its first occurrence is still on its way (or
            // held for its outer frames); the counts wait in the slot.
            let Some(site) = sites.get(&slot) else { return false };
            t.progress.accept(n);
            if let Some(seen) = in_batch.get(&site.fold_key) {
                let latest = &mut batch[seen.latest];
                latest.times += n;
                latest.occurrence.timestamp = latest.occurrence.timestamp.max(at);
            } else {
                let mut occurrence = site.summary.clone();
                occurrence.timestamp = at;
                batch.push(Grouped { hash: site.hash.clone(), occurrence, times: n, count_only: true });
            }
            true
        });
    }

    /// Writes the batch, by what the store's errors say (see [`StoreErrorKind`]):
    ///
    /// - a transient error: the same part again after a backoff, until the
    ///   store takes it (the app is never blocked meanwhile: the queue folds
    ///   into counters once full);
    /// - [`StoreError::Full`]: the part split in two, so that what fits is
    ///   written now (a whole batch may never fit on a nearly full disk,
    ///   and everything buffered is lost should the process exit meanwhile);
    /// - a permanent error: the part again, [`PERMANENT_ATTEMPTS`] times
    ///   in all, then split in two, each half tried once, down to the single
    ///   entries the store refuses, which are set aside (counted in
    ///   `Progress::set_aside`), so that one poisoned occurrence cannot stop
    ///   all storage.
    ///
    /// Parts are written in batch order; a store's write is all or nothing,
    /// so no part counts twice.
    fn write(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        // The parts still to write, the next one last, with their permanent failures.
        let mut parts: Vec<(Range<usize>, u32)> = vec![(0..self.batch.len(), 0)];
        let mut backoff = FIRST_BACKOFF;
        while let Some((range, failures)) = parts.pop() {
            let part = &self.batch[range.clone()];
            let times: u64 = part.iter().map(|g| g.times).sum();
            let result = catch_unwind(AssertUnwindSafe(|| self.t.store.write(part)));
            let e = match result {
                Ok(Ok(changes)) => {
                    if let Some(d) = &mut self.notify {
                        d.after_write(&changes, part);
                    }
                    self.t.progress.finish(times);
                    backoff = FIRST_BACKOFF;
                    continue;
                }
                Ok(Err(e)) => e,
                Err(_) => StoreError::Database("the store panicked".into()),
            };
            self.t.progress.write_failures.fetch_add(1, Ordering::Relaxed);
            let halves = |failures| {
                let mid = range.start + range.len() / 2;
                // The first half on top: it is written first.
                [(mid..range.end, failures), (range.start..mid, failures)]
            };
            match e.kind() {
                _ if matches!(e, StoreError::Full(_)) && range.len() > 1 => parts.extend(halves(0)),
                StoreErrorKind::Transient => {
                    self.log_failure(&e, range.len(), "will retry");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    parts.push((range, failures));
                }
                StoreErrorKind::Permanent if failures + 1 < PERMANENT_ATTEMPTS => {
                    self.log_failure(&e, range.len(), "will retry");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    parts.push((range, failures + 1));
                }
                // Each half gets one try before it is split again.
                StoreErrorKind::Permanent if range.len() > 1 => parts.extend(halves(PERMANENT_ATTEMPTS - 1)),
                StoreErrorKind::Permanent => {
                    self.t.progress.set_aside.fetch_add(times, Ordering::Relaxed);
                    self.t.progress.finish(times);
                    self.log_failure(&e, range.len(), "set aside (counted as lost)");
                }
            }
        }
        self.batch.clear();
        self.in_batch.clear();
        self.last_write = Some(Instant::now());
    }

    /// Every [`PRUNE_INTERVAL`] (and once at start), deletes the groups past
    /// the retention limits, counting them in `Progress`; a failure is
    /// logged and tried again at the next interval.
    fn prune(&mut self) {
        let now = Instant::now();
        if self.last_prune.is_some_and(|t| now.duration_since(t) < PRUNE_INTERVAL) {
            return;
        }
        self.last_prune = Some(now);
        let limits = self.t.config.retention;
        if limits == crate::store::Retention::UNLIMITED {
            return;
        }
        match catch_unwind(AssertUnwindSafe(|| self.t.store.prune(&limits))) {
            Ok(Ok(p)) => {
                self.t.progress.pruned_groups.fetch_add(p.groups, Ordering::Relaxed);
                self.t.progress.pruned_occurrences.fetch_add(p.occurrences, Ordering::Relaxed);
            }
            Ok(Err(e)) => eprintln!("error-tracker: enforcing the retention limits failed, will retry: {e}"),
            Err(_) => eprintln!("error-tracker: enforcing the retention limits panicked"),
        }
    }

    fn log_failure(&mut self, e: &dyn std::fmt::Display, entries: usize, then: &str) {
        let now = Instant::now();
        if self.last_log.is_none_or(|t| now.duration_since(t) > Duration::from_secs(30)) {
            self.last_log = Some(now);
            eprintln!("error-tracker: cannot store {entries} occurrence(s), {then}: {e}");
        }
    }
}
