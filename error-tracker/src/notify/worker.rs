//! The writer's [`Dispatcher`] and one worker thread per channel.
//!
//! A channel is one notifier (the email notifier, each webhook) or the
//! ticketing backend. Each has its own bounded queue and thread, so a
//! channel that hangs or is down delays nothing on the others.
//!
//! What a channel owes is written to the store's outbox
//! ([`Store::put_pending_notifications`]) with the batch that makes it due,
//! before it is queued: a full queue, a channel that is down or a process
//! that exits loses nothing. A channel that fails every try is *down*: what
//! it is handed meanwhile goes back to the outbox untried, and one
//! notification probes it after a pause (doubled up to
//! [`MAX_PROBE_PAUSE`]); once it answers, the outbox is drained. At start
//! each worker takes what the outbox holds for its channel (left by an
//! earlier process).

use std::collections::{HashMap, HashSet, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use serde::{Deserialize, Serialize};

use super::{ChannelStatus, Notification, Notifier, NotifyError, Reason, Shared, Ticketing};
use crate::init_error::InitError;
use crate::notify::Setup;
use crate::occurrence::Occurrence;
use crate::reentry::{self, State};
use crate::store::{
    ChangeKind, GroupChange, GroupSummary, Grouped, PageRequest, PendingNotification, Status, Store, StoreError,
};
use crate::timestamp::Timestamp;

/// How many interval reminders the policy remembers before it forgets the oldest.
const MAX_REMEMBERED: usize = 10_000;
/// How long a process holds a notification it queued or took from the
/// outbox before another process may take it: longer than a full queue
/// takes to deliver, so that two processes do not both send it.
pub(crate) const LEASE: Duration = Duration::from_secs(300);
/// How many outbox rows a worker takes at a time.
const CLAIM_BATCH: u32 = 64;
/// How often a healthy worker looks at the outbox for what another process
/// released or left behind.
const RESCAN: Duration = Duration::from_secs(60);
/// The longest pause between two probes of a channel that is down.
const MAX_PROBE_PAUSE: Duration = Duration::from_secs(300);
/// How many delivered ids a worker remembers, so that one both queued and
/// taken from the outbox is sent once.
const REMEMBERED_IDS: usize = 4096;

/// One notification for one channel.
#[derive(Clone)]
pub(crate) struct Job {
    /// The notification id (the idempotency key), shared by the channels.
    id: String,
    hash: String,
    reason: Reason,
    count: u64,
    occurrence: Occurrence,
    /// The occurrence is a count-only entry's (no traceback, no request):
    /// the worker reads the group's latest stored one instead.
    count_only: bool,
    /// Whether the outbox keeps it (false: this process's memory only).
    kept: bool,
}

impl Job {
    pub(crate) fn id(&self) -> &str {
        &self.id
    }
}

/// The outbox's `payload`: what a [`Job`] needs besides its row's columns.
#[derive(Serialize, Deserialize)]
struct Payload {
    reason: Reason,
    count: u64,
    occurrence: Occurrence,
    #[serde(default)]
    count_only: bool,
}

/// The outbox's `kind`: a group is owed one notification of each per channel.
fn kind_of(reason: Reason) -> &'static str {
    match reason {
        Reason::New => "new",
        Reason::Regressed => "regressed",
        Reason::Every(_) | Reason::Multiples { .. } => "every",
        Reason::Reminder => "reminder",
    }
}

/// What a channel delivers to.
#[derive(Clone)]
pub(crate) enum Sink {
    Notifier(Arc<dyn Notifier>),
    Ticketing(Arc<dyn Ticketing>),
}

impl Sink {
    fn kind_name(&self) -> String {
        match self {
            Sink::Notifier(n) => n.channel_name(),
            Sink::Ticketing(t) => t.channel_name(),
        }
    }
}

/// The channels of a configuration, named: the kind's name, then `-2`, `-3`
/// for a second and third of one kind, in the order they were given. The
/// names are the outbox's `channel`, so they stay the same across restarts
/// as long as the configuration does.
pub(crate) fn name_channels(sinks: Vec<Sink>) -> Vec<(String, Sink)> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    sinks
        .into_iter()
        .map(|s| {
            let base = s.kind_name();
            let n = seen.entry(base.clone()).or_default();
            *n += 1;
            let name = if *n == 1 { base } else { format!("{base}-{n}") };
            (name, s)
        })
        .collect()
}

/// The writer's side: the policy, the store (for the outbox) and the
/// sending end of each channel's queue.
pub(crate) struct Dispatcher {
    every: Option<u64>,
    interval: Option<Duration>,
    last_sent: HashMap<String, Instant>,
    store: Arc<dyn Store>,
    channels: Vec<(String, Sender<Job>)>,
    shared: Arc<Shared>,
}

/// What one channel's worker needs.
struct Worker {
    name: String,
    index: usize,
    sink: Sink,
    store: Arc<dyn Store>,
    subject_prefix: String,
    detail_url: String,
    tries: u32,
    backoff: Duration,
    shared: Arc<Shared>,
    /// Recently finished ids, oldest first.
    done: VecDeque<String>,
    done_set: HashSet<String>,
    /// Undelivered jobs the outbox does not keep (it cannot), oldest first.
    held: VecDeque<Job>,
    held_cap: usize,
    /// Set while the channel is down: when to probe it next, and the pause after that.
    down: Option<(Instant, Duration)>,
    /// When to look at the outbox next.
    rescan_at: Instant,
    /// Whether the outbox keeps anything at all (false for a store of yours
    /// that keeps the trait's defaults).
    outbox: bool,
}

/// How one try ended.
enum Outcome {
    Delivered,
    /// Nothing to send any more: the group was deleted, or is ignored and
    /// this is a reminder.
    Skipped,
    /// Tried every time, or a refusal that a retry cannot change.
    Failed {
        error: NotifyError,
        permanent: bool,
    },
    /// Sent, but no answer came in time: it may have been delivered.
    Unconfirmed(NotifyError),
}

impl Dispatcher {
    /// Starts one worker per channel; `None` when there is no channel.
    pub(crate) fn start(
        config: &Setup<'_>,
        store: Arc<dyn Store>,
        sinks: Vec<Sink>,
        shared: impl FnOnce() -> Arc<Shared>,
    ) -> Result<Option<Self>, InitError> {
        if sinks.is_empty() {
            return Ok(None);
        }
        let shared = shared();
        let (tries, backoff) = config.settings.retry();
        let capacity = config.settings.queue_size();
        let named = name_channels(sinks);
        shared.set_channels(named.iter().map(|(n, _)| n.clone()).collect());
        let mut channels = Vec::with_capacity(named.len());
        for (index, (name, sink)) in named.into_iter().enumerate() {
            let (tx, rx) = crossbeam_channel::bounded(capacity);
            let worker = Worker {
                name: name.clone(),
                index,
                sink,
                store: store.clone(),
                subject_prefix: config.subject_prefix.to_owned(),
                detail_url: format!("{}{}", config.settings.ui_base_url, config.url_prefix),
                tries,
                backoff,
                shared: shared.clone(),
                done: VecDeque::new(),
                done_set: HashSet::new(),
                held: VecDeque::new(),
                held_cap: capacity,
                down: None,
                rescan_at: Instant::now(),
                outbox: true,
            };
            shared.keep_receiver(&name, rx.clone());
            // The first look at the outbox counts as pending, so that a
            // flush right after init waits for what an earlier process left.
            shared.update(index, |s| s.pending += 1);
            std::thread::Builder::new()
                .name(format!("error-tracker-notify-{name}"))
                .spawn(move || reentry::with_state(State::Recording, || worker.run(&rx)))
                .map_err(InitError::Spawn)?;
            channels.push((name, tx));
        }
        Ok(Some(Dispatcher {
            every: config.settings.every,
            interval: config.settings.interval,
            last_sent: HashMap::new(),
            store,
            channels,
            shared,
        }))
    }

    /// Called by the writer after each stored batch: picks the groups the
    /// policy notifies, keeps them in the outbox and queues them on every
    /// channel, never blocking.
    pub(crate) fn after_write(&mut self, changes: &[GroupChange], batch: &[Grouped]) {
        let now = Instant::now();
        // Built on the first notified group only: most batches notify nothing.
        let mut latest: Option<HashMap<&str, &Grouped>> = None;
        let mut jobs = Vec::new();
        for change in changes {
            let Some(reason) = self.decide(change, now) else { continue };
            let index = latest.get_or_insert_with(|| {
                // The latest occurrence in detail; a count-only entry only
                // when the batch has nothing else of the group.
                let mut m: HashMap<&str, &Grouped> = HashMap::new();
                for g in batch {
                    let e = m.entry(g.hash.as_str()).or_insert(g);
                    let newer = g.occurrence.timestamp >= e.occurrence.timestamp;
                    if (e.count_only && !g.count_only) || (newer && g.count_only == e.count_only) {
                        *e = g;
                    }
                }
                m
            });
            let Some(g) = index.get(change.hash.as_str()) else { continue };
            jobs.push(Job {
                id: uuid::Uuid::new_v4().to_string(),
                hash: change.hash.clone(),
                reason,
                count: change.count,
                occurrence: g.occurrence.clone(),
                count_only: g.count_only,
                kept: false,
            });
        }
        if jobs.is_empty() {
            return;
        }
        let kept = self.keep(&jobs);
        for (i, (name, tx)) in self.channels.iter().enumerate() {
            for job in &jobs {
                let job = Job { kept, ..job.clone() };
                let id = job.id.clone();
                self.shared.update(i, |s| s.pending += 1);
                if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = tx.try_send(job) {
                    if kept {
                        // In the outbox still: free it for the worker to take
                        // when its queue has room again.
                        let _ = self.store.release_pending_notification(name, &id);
                        self.shared.update(i, |s| {
                            s.pending -= 1;
                            s.overflowed += 1;
                        });
                        self.shared.wake_rescan(i);
                    } else {
                        self.shared.update(i, |s| {
                            s.pending -= 1;
                            s.dropped += 1;
                        });
                    }
                }
            }
        }
    }

    /// Writes the jobs to the outbox, one row per channel; false when the
    /// store cannot keep them (they then live in this process only).
    fn keep(&self, jobs: &[Job]) -> bool {
        let mut rows = Vec::with_capacity(jobs.len() * self.channels.len());
        for job in jobs {
            let payload = Payload {
                reason: job.reason,
                count: job.count,
                occurrence: job.occurrence.clone(),
                count_only: job.count_only,
            };
            let Ok(payload) = crate::json::to_string(&payload) else { return false };
            for (name, _) in &self.channels {
                rows.push(PendingNotification {
                    id: job.id.clone(),
                    channel: name.clone(),
                    hash: job.hash.clone(),
                    kind: kind_of(job.reason).to_owned(),
                    payload: payload.clone(),
                    created_on: Timestamp::now(),
                });
            }
        }
        match self.store.put_pending_notifications(&rows, LEASE) {
            Ok(()) => true,
            Err(StoreError::Unsupported(_)) => false,
            Err(e) => {
                self.shared.error_all(format!("cannot keep notifications in the store (kept in memory): {e}"));
                false
            }
        }
    }

    /// The policy: new groups and regressions always; recurring groups on
    /// every N-th occurrence or once per interval, when configured.
    pub(crate) fn decide(&mut self, change: &GroupChange, now: Instant) -> Option<Reason> {
        let reason = match change.kind {
            ChangeKind::New => Some(Reason::New),
            ChangeKind::Regressed => Some(Reason::Regressed),
            ChangeKind::Recurring => {
                let before = change.count.saturating_sub(change.added);
                let every = self.every.and_then(|n| Reason::multiples_crossed(n, before, change.count));
                let due = self
                    .interval
                    .is_some_and(|i| self.last_sent.get(&change.hash).is_none_or(|at| now.duration_since(*at) >= i));
                every.or(due.then_some(Reason::Reminder))
            }
        };
        if reason.is_some() && self.interval.is_some() {
            if self.last_sent.len() >= MAX_REMEMBERED {
                let i = self.interval.unwrap_or_default();
                self.last_sent.retain(|_, at| now.duration_since(*at) < i);
                if self.last_sent.len() >= MAX_REMEMBERED {
                    self.last_sent.clear();
                }
            }
            self.last_sent.insert(change.hash.clone(), now);
        }
        reason
    }
}

impl Worker {
    fn run(mut self, queue: &Receiver<Job>) {
        self.drain_outbox();
        self.shared.update(self.index, |s| s.pending -= 1);
        loop {
            if self.shared.take_rescan(self.index) {
                self.rescan_at = Instant::now();
            }
            let now = Instant::now();
            match self.down {
                Some((at, _)) if now >= at => self.probe(),
                None if now >= self.rescan_at => self.drain_outbox(),
                _ => {}
            }
            let next = match self.down {
                Some((at, _)) => at,
                None => self.rescan_at,
            };
            let wait = next.saturating_duration_since(Instant::now()).clamp(Duration::from_millis(10), RESCAN);
            match queue.recv_timeout(wait) {
                Ok(job) => self.take(job),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    /// A job from the queue: delivered, or put aside while the channel is down.
    fn take(&mut self, job: Job) {
        if self.down.is_some() {
            self.put_aside(job);
        } else {
            self.deliver_guarded(job);
        }
        self.shared.update(self.index, |s| s.pending -= 1);
    }

    /// Takes what the outbox holds for this channel and delivers it, while
    /// the channel stays up.
    fn drain_outbox(&mut self) {
        self.rescan_at = Instant::now() + RESCAN;
        if !self.outbox {
            return;
        }
        while self.down.is_none() {
            let rows = match self.store.claim_pending_notifications(&self.name, CLAIM_BATCH, LEASE) {
                Ok(rows) => rows,
                Err(StoreError::Unsupported(_)) => {
                    self.outbox = false;
                    return;
                }
                Err(e) => {
                    self.note(format!("cannot read the notification outbox: {e}"));
                    return;
                }
            };
            let full = rows.len() == CLAIM_BATCH as usize;
            self.shared.update(self.index, |s| s.pending += rows.len() as u64);
            let mut rows = rows.into_iter();
            for row in rows.by_ref() {
                match job_of(&row) {
                    Some(job) => self.deliver_guarded(job),
                    None => {
                        let _ = self.store.finish_pending_notification(&self.name, &row.id, false);
                        self.note(format!("dropped an unreadable notification of group {}", row.hash));
                    }
                }
                // Only now: a flush must not find the channel idle while the last one is on its way.
                self.shared.update(self.index, |s| s.pending -= 1);
                if self.down.is_some() {
                    break;
                }
            }
            // The channel went down meanwhile: the rest goes back untried.
            for row in rows {
                self.shared.update(self.index, |s| {
                    s.pending -= 1;
                    s.waiting += 1;
                });
                let _ = self.store.release_pending_notification(&self.name, &row.id);
            }
            if !full {
                return;
            }
        }
    }

    /// One try at a channel that is down: the oldest notification it owes.
    fn probe(&mut self) {
        let job = match self.held.pop_front() {
            Some(job) => Some(job),
            None if self.outbox => match self.store.claim_pending_notifications(&self.name, 1, LEASE) {
                Ok(rows) => rows.first().and_then(job_of),
                Err(_) => None,
            },
            None => None,
        };
        let Some(job) = job else {
            // Nothing to probe with: the next notification will tell.
            self.up();
            return;
        };
        // In flight meanwhile; counted again by `put_aside` should the probe fail.
        self.shared.update(self.index, |s| {
            s.waiting = s.waiting.saturating_sub(1);
            s.pending += 1;
        });
        let (_, pause) = self.down.unwrap_or((Instant::now(), self.backoff));
        self.down = None;
        self.deliver_guarded(job);
        self.shared.update(self.index, |s| s.pending -= 1);
        match &mut self.down {
            // Still down: wait longer before the next probe.
            Some((at, next)) => {
                *next = pause.saturating_mul(2).min(MAX_PROBE_PAUSE);
                *at = Instant::now() + *next;
            }
            None => self.up(),
        }
    }

    /// The channel answers again: what waits in memory, then the outbox.
    fn up(&mut self) {
        self.down = None;
        // `waiting` stays until the outbox is drained: a flush meanwhile must
        // not find the channel idle.
        self.shared.update(self.index, |s| s.down_since = None);
        while self.down.is_none()
            && let Some(job) = self.held.pop_front()
        {
            self.shared.update(self.index, |s| {
                s.waiting = s.waiting.saturating_sub(1);
                s.pending += 1;
            });
            self.deliver_guarded(job);
            self.shared.update(self.index, |s| s.pending -= 1);
        }
        if self.down.is_none() {
            self.drain_outbox();
            if self.down.is_none() {
                self.shared.update(self.index, |s| s.waiting = 0);
            }
        }
    }

    /// Keeps a job for later, untried: in the outbox, or in memory when the
    /// outbox does not keep it (the oldest dropped past the queue size).
    fn put_aside(&mut self, job: Job) {
        if job.kept {
            match self.store.release_pending_notification(&self.name, &job.id) {
                Ok(()) => {
                    self.shared.update(self.index, |s| s.waiting += 1);
                    return;
                }
                Err(e) => self.note(format!("cannot give a notification back to the outbox: {e}")),
            }
        }
        if self.held.len() >= self.held_cap {
            self.held.pop_front();
            self.shared.update(self.index, |s| {
                s.dropped += 1;
                s.waiting = s.waiting.saturating_sub(1);
            });
        }
        self.held.push_back(Job { kept: false, ..job });
        self.shared.update(self.index, |s| s.waiting += 1);
    }

    fn deliver_guarded(&mut self, job: Job) {
        if self.done_set.contains(&job.id) {
            return;
        }
        let hash = job.hash.clone();
        if job.kept {
            self.shared.set_in_flight(self.index, Some(&job.id));
        }
        let attempt = catch_unwind(AssertUnwindSafe(|| self.deliver(job.clone())));
        self.shared.set_in_flight(self.index, None);
        let outcome = attempt.unwrap_or(Outcome::Failed { error: NotifyError::Panicked, permanent: true });
        match outcome {
            Outcome::Delivered => {
                // It answers: the channel is up (a probe clears it here, before a flush can see it idle).
                self.shared.update(self.index, |s| {
                    s.sent += 1;
                    s.last_sent = Some(Timestamp::now());
                    s.down_since = None;
                });
                self.finish(&job, true);
            }
            Outcome::Skipped => self.finish(&job, false),
            Outcome::Unconfirmed(e) => {
                // Not resent: the receiver may have it, and a peer that was
                // slow once is slow again (three tries gave three copies).
                self.shared.update(self.index, |s| {
                    s.unconfirmed += 1;
                    s.last_error = Some((
                        Timestamp::now(),
                        format!("{}: {e}; it may have been delivered, so it is not sent again", self.name),
                    ));
                });
                eprintln!("error-tracker: {}: group {hash}: {e} (may have been delivered; not sent again)", self.name);
                self.finish(&job, true);
            }
            Outcome::Failed { error, permanent: true } => {
                eprintln!("error-tracker: {}: group {hash}: delivery refused, given up: {error}", self.name);
                self.shared.update(self.index, |s| {
                    s.failed += 1;
                    s.last_error = Some((Timestamp::now(), format!("{}: {error} (given up)", self.name)));
                });
                self.finish(&job, false);
            }
            Outcome::Failed { error, permanent: false } => {
                eprintln!(
                    "error-tracker: {}: group {hash}: {error} after {} tries; kept, sent when {} answers again",
                    self.name, self.tries, self.name
                );
                let since = Timestamp::now();
                self.shared.update(self.index, |s| {
                    s.last_error =
                        Some((since, format!("{}: {error} (kept; retried when it answers again)", self.name)));
                    s.down_since.get_or_insert(since);
                });
                if self.down.is_none() {
                    let pause = self.backoff.max(Duration::from_secs(1)).saturating_mul(2);
                    self.down = Some((Instant::now() + pause, pause));
                }
                self.put_aside(job);
            }
        }
    }

    fn finish(&mut self, job: &Job, delivered: bool) {
        if job.kept
            && let Err(e) = self.store.finish_pending_notification(&self.name, &job.id, delivered)
        {
            self.note(format!("cannot record the delivery of group {}: {e}", job.hash));
        }
        if !job.kept && delivered {
            // No outbox: the flag is all there is.
            let _ = self.store.set_notification_sent(&job.hash, true);
        }
        if self.done.len() >= REMEMBERED_IDS
            && let Some(old) = self.done.pop_front()
        {
            self.done_set.remove(&old);
        }
        self.done.push_back(job.id.clone());
        self.done_set.insert(job.id.clone());
    }

    fn note(&self, message: String) {
        eprintln!("error-tracker: {}: {message}", self.name);
        self.shared
            .update(self.index, |s| s.last_error = Some((Timestamp::now(), format!("{}: {message}", self.name))));
    }

    /// Builds the notification and tries the channel up to `tries` times.
    fn deliver(&self, job: Job) -> Outcome {
        let group = match self.store.group(&job.hash) {
            Ok(Some(g)) => g.summary,
            // Deleted since: nothing to say any more.
            Ok(None) => return Outcome::Skipped,
            // The store is failing: notify from what the writer saw.
            Err(_) => summary_of(&job),
        };
        if group.status == Status::Ignored
            && matches!(job.reason, Reason::Every(_) | Reason::Multiples { .. } | Reason::Reminder)
        {
            return Outcome::Skipped;
        }
        let url = format!("{}/group/{}", self.detail_url, job.hash);
        let mut occurrence = job.occurrence;
        if job.count_only
            && let Ok(page) = self.store.occurrences(&job.hash, PageRequest::first(1))
            && let Some(latest) = page.items.into_iter().next()
        {
            occurrence = latest;
        }
        let mut n = Notification::new(job.reason, group, occurrence, &self.subject_prefix, url);
        n.id = job.id;
        let mut pause = self.backoff;
        for attempt in 1..=self.tries {
            let result = catch_unwind(AssertUnwindSafe(|| self.send(&n))).unwrap_or(Err(NotifyError::Panicked));
            match result {
                Ok(()) => return Outcome::Delivered,
                Err(e) if e.may_have_been_delivered() => return Outcome::Unconfirmed(e),
                Err(e) if !e.is_retryable() => return Outcome::Failed { error: e, permanent: true },
                Err(e) if attempt == self.tries => return Outcome::Failed { error: e, permanent: false },
                Err(e) => {
                    self.shared.update(self.index, |s| {
                        s.retries += 1;
                        s.last_error = Some((Timestamp::now(), format!("{}: {e} (will retry)", self.name)));
                    });
                    std::thread::sleep(pause);
                    pause = pause.saturating_mul(2);
                }
            }
        }
        Outcome::Failed { error: NotifyError::Panicked, permanent: true }
    }

    /// One try: a message, or a ticket opened or updated.
    fn send(&self, n: &Notification) -> Result<(), NotifyError> {
        match &self.sink {
            Sink::Notifier(notifier) => notifier.notify(n),
            Sink::Ticketing(t) => match &n.group.ticket_raised {
                Some(reference) => t.update_ticket(reference, n),
                None => {
                    let reference = t.raise_ticket(n)?;
                    if let Err(e) = self.store.set_ticket(&n.group.hash, Some(&reference)) {
                        // A lost reference means a second ticket next time: say so.
                        self.note(format!("cannot record ticket_raised {reference}: {e}"));
                    }
                    Ok(())
                }
            },
        }
    }
}

/// A job from an outbox row; `None` when its payload cannot be read.
fn job_of(row: &PendingNotification) -> Option<Job> {
    let p: Payload = crate::json::from_str(&row.payload).ok()?;
    Some(Job {
        id: row.id.clone(),
        hash: row.hash.clone(),
        reason: p.reason,
        count: p.count,
        occurrence: p.occurrence,
        count_only: p.count_only,
        kept: true,
    })
}

/// A group row made from the job alone, when the store cannot give it.
fn summary_of(job: &Job) -> GroupSummary {
    let o = &job.occurrence;
    GroupSummary {
        hash: job.hash.clone(),
        exception_name: o.exception_name.clone(),
        message: o.message.clone(),
        method: o.request.as_ref().map(|r| r.method.clone()),
        path: o.request.as_ref().map(|r| r.route.clone().unwrap_or_else(|| r.path.clone())),
        host: o.host.clone(),
        count: job.count,
        created_on: o.timestamp,
        last_seen: o.timestamp,
        status: Status::Unresolved,
        notification_sent: false,
        ticket_raised: None,
    }
}

impl ChannelStatus {
    pub(crate) fn named(name: String) -> Self {
        ChannelStatus { name, ..Default::default() }
    }
}
