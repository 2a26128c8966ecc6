//! Where groups and occurrences are kept: the [`Store`] trait and its implementations.
//!
//! Only this module speaks SQL. A [`Store`] has two halves, split by who
//! calls them: the writer thread calls [`StoreWrite::write`] with batches;
//! the UI and the notifiers call [`StoreQuery`].

use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::occurrence::Occurrence;
use crate::timestamp::Timestamp;

// Each distinct backtrace stored once: the SQL stores' (parts are one store's only).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[cfg_attr(not(all(feature = "sqlite", feature = "postgres")), allow(dead_code))]
mod backtraces;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod batch;
pub mod memory;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;

#[cfg(feature = "postgres")]
pub use self::postgres::PostgresStore;
pub use memory::MemoryStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

/// A place that keeps groups and their occurrences: a type with both halves,
/// [`StoreWrite`] (the writer's) and [`StoreQuery`] (the UI's and the
/// notifiers'). It is implemented for every such type; implement the two
/// halves, never this.
///
/// Implementations must keep `count` exact when several processes write at
/// once, never change `created_on` after the first occurrence, and cap the
/// stored occurrences per group to the newest ones.
///
/// ```
/// use std::sync::Arc;
/// use error_tracker::{MemoryStore, Store, StoreQuery};
/// let store: Arc<dyn Store> = Arc::new(MemoryStore::new(100));
/// // The UI and the notifiers take only the query half.
/// let query: Arc<dyn StoreQuery> = store;
/// assert_eq!(query.list_groups(&Default::default()).unwrap().total, 0);
/// ```
pub trait Store: StoreWrite + StoreQuery {}

impl<T: StoreWrite + StoreQuery + ?Sized> Store for T {}

/// The writer's half of a [`Store`]: only the writer thread calls it.
///
/// The writer tells what to do with a failed write from the error's
/// [`kind`](StoreError::kind): a transient one is retried with backoff, a
/// permanent one a few times, then the batch is split to find the entries
/// the store refuses, and those are set aside (counted, never retried
/// forever). A [`StoreError::Full`] batch is split into smaller ones, so that
/// what fits is written.
pub trait StoreWrite: Send + Sync + 'static {
    /// Writes a batch of fingerprinted occurrences in one transaction, and
    /// tells for each group touched whether it is new, regressed or recurring.
    ///
    /// It writes all of the batch or nothing: the writer retries or splits a
    /// batch that failed, and a part written twice would count twice.
    fn write(&self, batch: &[Grouped]) -> Result<Vec<GroupChange>, StoreError>;

    /// Called once as the process ends (the [`Guard`](crate::Guard) is
    /// dropped), after the last write: the SQLite store folds its WAL into
    /// the file here, so that the file alone holds the data. It must not
    /// wait long; the default does nothing.
    fn close(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Deletes the groups past `retention`'s limits, oldest `last_seen`
    /// first, with their occurrences, and keeps the count of what it deleted
    /// (the SQLite and PostgreSQL stores: in the table `pruned`). The writer
    /// calls it every few seconds; the default deletes nothing.
    fn prune(&self, retention: &Retention) -> Result<Pruned, StoreError> {
        let _ = retention;
        Ok(Pruned::default())
    }
}

/// How much a store keeps: the limits [`StoreWrite::prune`] enforces.
///
/// The defaults bound a storm of distinct errors: 50,000 groups, 1 GiB of
/// data, and groups not seen for 90 days. `None` is no limit.
///
/// ```
/// use std::time::Duration;
/// use error_tracker::Retention;
/// let r = Retention::default();
/// assert_eq!(r.max_groups, Some(50_000));
/// assert_eq!(r.max_bytes, Some(1 << 30));
/// assert_eq!(r.max_age, Some(Duration::from_secs(90 * 24 * 3600)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// The most groups kept; past it, the least recently seen go first.
    pub max_groups: Option<u64>,
    /// The most bytes of data the database may hold (SQLite: its pages in
    /// use; the file does not shrink, freed pages are reused); past it, the
    /// least recently seen groups go first. PostgreSQL leaves this limit to
    /// the database's own administration.
    pub max_bytes: Option<u64>,
    /// Groups not seen for this long are deleted.
    pub max_age: Option<std::time::Duration>,
}

impl Retention {
    /// No limit at all.
    pub const UNLIMITED: Retention = Retention { max_groups: None, max_bytes: None, max_age: None };
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_groups: Some(50_000),
            max_bytes: Some(1 << 30),
            max_age: Some(std::time::Duration::from_secs(90 * 24 * 3600)),
        }
    }
}

/// What one [`StoreWrite::prune`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pruned {
    /// Groups deleted.
    pub groups: u64,
    /// The sum of their counts: the occurrences no longer counted anywhere else.
    pub occurrences: u64,
}

impl Pruned {
    /// Adds `count` for one group deleted.
    pub fn add(&mut self, count: u64) {
        self.groups += 1;
        self.occurrences += count;
    }
}

/// The query half of a [`Store`]: what the UI and the notifiers read and change.
///
/// Methods added here later come with a default body (returning
/// [`StoreError::Unsupported`] where nothing else makes sense), so that a
/// store written against this version keeps compiling.
pub trait StoreQuery: Send + Sync + 'static {
    /// One page of groups, newest `last_seen` first, with the total.
    fn list_groups(&self, query: &GroupQuery) -> Result<Page<GroupSummary>, StoreError>;

    /// One group, with its latest traceback and request data.
    fn group(&self, hash: &str) -> Result<Option<Group>, StoreError>;

    /// One page of a group's stored occurrences, newest first.
    fn occurrences(&self, hash: &str, page: PageRequest) -> Result<Page<Occurrence>, StoreError>;

    /// One stored occurrence of a group, by its event id, with its place in
    /// the group's history (newest first) and the event ids of its
    /// neighbours there; `None` when the group holds no such occurrence (it
    /// was never stored, or was trimmed or deleted since).
    fn occurrence(&self, hash: &str, event_id: &str) -> Result<Option<OccurrenceAt>, StoreError> {
        let _ = (hash, event_id);
        Err(StoreError::Unsupported("reading one occurrence"))
    }

    /// Occurrences of a group per hour since `since`, oldest first, one
    /// entry per hour (zero where none happened).
    fn hourly_counts(&self, hash: &str, since: Timestamp) -> Result<Vec<u64>, StoreError>;

    /// Deletes a group and its occurrences. Returns whether it existed.
    fn delete_group(&self, hash: &str) -> Result<bool, StoreError>;

    /// Sets a group's status. Returns whether the group exists.
    fn set_status(&self, hash: &str, status: Status) -> Result<bool, StoreError>;

    /// Records that a notification was sent for the group.
    fn set_notification_sent(&self, hash: &str, sent: bool) -> Result<bool, StoreError>;

    /// Keeps the ticket reference (an id or URL) raised for the group.
    fn set_ticket(&self, hash: &str, ticket: Option<&str>) -> Result<bool, StoreError>;

    // The notification outbox: what each channel still owes (see
    // [`PendingNotification`]). The defaults keep nothing, so that a store
    // of yours keeps compiling; the notification worker then holds what is
    // undelivered in memory only, for this process.

    /// Keeps `items` until their channel delivers them, claimed by this
    /// process for `lease` (another process does not take them meanwhile),
    /// and sets `notification_sent` to false on their groups: something is
    /// owed. An item with the `(channel, hash, kind)` of one already kept
    /// replaces it.
    fn put_pending_notifications(&self, items: &[PendingNotification], lease: Duration) -> Result<(), StoreError> {
        let _ = (items, lease);
        Err(StoreError::Unsupported("a notification outbox"))
    }

    /// Claims for `lease` up to `limit` of what `channel` owes, oldest first,
    /// among what no live claim holds: those released, those of a process
    /// that ended, those whose claim ran out.
    fn claim_pending_notifications(
        &self,
        channel: &str,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<PendingNotification>, StoreError> {
        let _ = (channel, limit, lease);
        Err(StoreError::Unsupported("a notification outbox"))
    }

    /// Gives back the claim on a notification that could not be delivered
    /// now: any process (this one included) may take it again.
    fn release_pending_notification(&self, channel: &str, id: &str) -> Result<(), StoreError> {
        let _ = (channel, id);
        Err(StoreError::Unsupported("a notification outbox"))
    }

    /// Ends a notification that `channel` delivered (`delivered`) or gave up
    /// on. Once the group is owed nothing more on any channel, and at least
    /// one delivered, sets the group's `notification_sent`. (A delivered row
    /// stays as a marker until then.) Returns whether the notification was
    /// still owed.
    fn finish_pending_notification(&self, channel: &str, id: &str, delivered: bool) -> Result<bool, StoreError> {
        let _ = (channel, id, delivered);
        Err(StoreError::Unsupported("a notification outbox"))
    }
}

/// A notification that a channel (an email notifier, a webhook, a ticket
/// system) has not delivered yet: one row of `notification_outbox`.
///
/// The store keeps it opaque: `payload` is JSON text written and read by the
/// notification worker (the reason, the count and the masked occurrence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingNotification {
    /// The notification's id: the idempotency key (`Idempotency-Key`
    /// header, `Message-ID`) of every try to deliver it.
    pub id: String,
    /// The channel's name (`email`, `webhook`, `slack`, `github`, …).
    pub channel: String,
    /// The group.
    pub hash: String,
    /// `new`, `regressed`, `every` or `reminder`: a group is owed at most
    /// one notification of each kind per channel.
    pub kind: String,
    /// What to send, as JSON text.
    pub payload: String,
    /// When it was first kept.
    pub created_on: Timestamp,
}

/// A shared store is a store: keep an `Arc` of it to reach it after handing
/// it to [`Config::store`](crate::Config::store).
impl<T: StoreWrite + ?Sized> StoreWrite for std::sync::Arc<T> {
    fn write(&self, batch: &[Grouped]) -> Result<Vec<GroupChange>, StoreError> {
        (**self).write(batch)
    }
    fn close(&self) -> Result<(), StoreError> {
        (**self).close()
    }
    fn prune(&self, retention: &Retention) -> Result<Pruned, StoreError> {
        (**self).prune(retention)
    }
}

impl<T: StoreQuery + ?Sized> StoreQuery for std::sync::Arc<T> {
    fn list_groups(&self, query: &GroupQuery) -> Result<Page<GroupSummary>, StoreError> {
        (**self).list_groups(query)
    }
    fn group(&self, hash: &str) -> Result<Option<Group>, StoreError> {
        (**self).group(hash)
    }
    fn occurrences(&self, hash: &str, page: PageRequest) -> Result<Page<Occurrence>, StoreError> {
        (**self).occurrences(hash, page)
    }
    fn hourly_counts(&self, hash: &str, since: Timestamp) -> Result<Vec<u64>, StoreError> {
        (**self).hourly_counts(hash, since)
    }
    fn occurrence(&self, hash: &str, event_id: &str) -> Result<Option<OccurrenceAt>, StoreError> {
        (**self).occurrence(hash, event_id)
    }
    fn delete_group(&self, hash: &str) -> Result<bool, StoreError> {
        (**self).delete_group(hash)
    }
    fn set_status(&self, hash: &str, status: Status) -> Result<bool, StoreError> {
        (**self).set_status(hash, status)
    }
    fn set_notification_sent(&self, hash: &str, sent: bool) -> Result<bool, StoreError> {
        (**self).set_notification_sent(hash, sent)
    }
    fn set_ticket(&self, hash: &str, ticket: Option<&str>) -> Result<bool, StoreError> {
        (**self).set_ticket(hash, ticket)
    }
    fn put_pending_notifications(&self, items: &[PendingNotification], lease: Duration) -> Result<(), StoreError> {
        (**self).put_pending_notifications(items, lease)
    }
    fn claim_pending_notifications(
        &self,
        channel: &str,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<PendingNotification>, StoreError> {
        (**self).claim_pending_notifications(channel, limit, lease)
    }
    fn release_pending_notification(&self, channel: &str, id: &str) -> Result<(), StoreError> {
        (**self).release_pending_notification(channel, id)
    }
    fn finish_pending_notification(&self, channel: &str, id: &str, delivered: bool) -> Result<bool, StoreError> {
        (**self).finish_pending_notification(channel, id, delivered)
    }
}

/// One occurrence with its fingerprint, as the writer hands it to a [`StoreWrite`].
#[derive(Debug, Clone)]
pub struct Grouped {
    /// The group's fingerprint (hex).
    pub hash: String,
    /// The occurrence itself.
    pub occurrence: Occurrence,
    /// How many occurrences this one stands for: more than 1 when the queue
    /// overflowed and identical occurrences were folded into a counter.
    pub times: u64,
    /// The entry only counts: `times` repeats of the group, seen up to
    /// `occurrence.timestamp`, that were not captured in detail (an error
    /// storm past its site's detail budget, see
    /// [`Config::occurrences_per_group`](crate::Config::occurrences_per_group)).
    /// A store adds them to the group's count, hours and `last_seen`, stores
    /// no occurrence row for them and keeps the group's detail (message,
    /// traceback, request) from its stored occurrences; only a group it does
    /// not have takes its detail from `occurrence`, which then holds the
    /// exception name, message and capture site of an earlier occurrence.
    pub count_only: bool,
}

impl Grouped {
    /// One occurrence, captured in detail, standing for itself.
    pub fn new(hash: impl Into<String>, occurrence: Occurrence) -> Self {
        Grouped { hash: hash.into(), occurrence, times: 1, count_only: false }
    }
}

/// What a write did to one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupChange {
    /// The group's fingerprint.
    pub hash: String,
    /// New, regressed or recurring.
    pub kind: ChangeKind,
    /// The group's count after the write.
    pub count: u64,
    /// How many occurrences this write added to the group.
    pub added: u64,
}

/// How a group changed in a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// The first occurrence of this fingerprint.
    New,
    /// An occurrence of a resolved group: it is unresolved again.
    Regressed,
    /// Another occurrence of an unresolved or ignored group.
    Recurring,
}

/// The triage status of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Open (the default).
    #[default]
    Unresolved,
    /// Fixed; a new occurrence reopens it as a regression.
    Resolved,
    /// Known and not worth fixing; new occurrences are counted silently.
    Ignored,
}

impl Status {
    /// All statuses, in display order.
    pub const ALL: [Status; 3] = [Status::Unresolved, Status::Resolved, Status::Ignored];

    /// The name stored in the `status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unresolved => "unresolved",
            Status::Resolved => "resolved",
            Status::Ignored => "ignored",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown status {s:?}").into()))
    }
}

/// Which groups to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupQuery {
    /// Only groups with this status.
    pub status: Option<Status>,
    /// Only groups whose exception name, message or path contains this text,
    /// taken literally (`%`, `_` and quotes included). ASCII letters match
    /// in any case; whether other letters do is up to the store (the SQLite
    /// and memory stores: no; PostgreSQL's `ILIKE`: per the database's locale).
    pub search: Option<String>,
    /// Only groups whose latest occurrence came from this host (the
    /// `host` column of the list).
    pub host: Option<String>,
    /// Only groups with a stored occurrence of this release.
    pub release: Option<String>,
    /// The order of the list.
    pub sort: GroupSort,
    /// The page to return.
    pub page: PageRequest,
}

impl Default for GroupQuery {
    fn default() -> Self {
        Self {
            status: None,
            search: None,
            host: None,
            release: None,
            sort: GroupSort::default(),
            page: PageRequest::first(10),
        }
    }
}

/// The order of a list of groups: each from the largest down, ties in
/// `hash` order.
///
/// ```
/// use error_tracker::GroupSort;
/// assert_eq!("count".parse::<GroupSort>().unwrap(), GroupSort::Count);
/// assert_eq!(GroupSort::default().as_str(), "last_seen");
/// assert!("price".parse::<GroupSort>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupSort {
    /// The most recently seen first (the default).
    #[default]
    LastSeen,
    /// The most recently first seen first: the newest groups.
    FirstSeen,
    /// The most frequent first.
    Count,
}

impl GroupSort {
    /// All orders, in display order.
    pub const ALL: [GroupSort; 3] = [GroupSort::LastSeen, GroupSort::FirstSeen, GroupSort::Count];

    /// `last_seen`, `first_seen` or `count`: the name in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupSort::LastSeen => "last_seen",
            GroupSort::FirstSeen => "first_seen",
            GroupSort::Count => "count",
        }
    }
}

impl FromStr for GroupSort {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        GroupSort::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown sort order {s:?}").into()))
    }
}

/// A page number (1-based) and a page size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// 1-based; 0 is read as 1.
    pub page: u32,
    /// Items per page; 0 is read as 1.
    pub per_page: u32,
}

impl PageRequest {
    /// The first page of `per_page` items.
    pub fn first(per_page: u32) -> Self {
        Self { page: 1, per_page }
    }

    /// The SQL `LIMIT`.
    pub fn limit(self) -> u64 {
        u64::from(self.per_page.max(1))
    }

    /// The SQL `OFFSET`.
    pub fn offset(self) -> u64 {
        u64::from(self.page.max(1) - 1) * self.limit()
    }
}

/// One stored occurrence and its place among the stored occurrences of its
/// group, newest first: what [`StoreQuery::occurrence`] returns.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct OccurrenceAt {
    /// The occurrence.
    pub occurrence: Occurrence,
    /// Its place in the group's history, from 1 (the newest).
    pub position: u64,
    /// How many occurrences of the group are stored.
    pub total: u64,
    /// The event id of the next newer stored occurrence, if any.
    pub newer: Option<String>,
    /// The event id of the next older stored occurrence, if any.
    pub older: Option<String>,
}

impl OccurrenceAt {
    /// `occurrence` at `position` of `total`, between `newer` and `older`.
    pub fn new(
        occurrence: Occurrence,
        position: u64,
        total: u64,
        newer: Option<String>,
        older: Option<String>,
    ) -> Self {
        OccurrenceAt { occurrence, position, total, newer, older }
    }
}

/// One page of results and the total number of matches.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// How many items match in all, or, when `total_is_exact` is false, a
    /// number that more items match.
    pub total: u64,
    /// False when the store stopped counting: more than `total` items match,
    /// and at least one follows this page. The SQLite store stops counting a
    /// search's matches past 10,000 (or past the page asked for), which costs
    /// a fraction of counting them all when most groups match.
    pub total_is_exact: bool,
    /// The page number (1-based).
    pub page: u32,
    /// The page size.
    pub per_page: u32,
}

impl<T> Page<T> {
    /// The page `request` asked for, holding `items`, of `total` matches.
    ///
    /// ```
    /// use error_tracker::{Page, PageRequest};
    /// let page = Page::exact(vec!["a", "b"], 12, PageRequest { page: 2, per_page: 2 });
    /// assert_eq!((page.pages(), page.total_is_exact), (6, true));
    /// ```
    pub fn exact(items: Vec<T>, total: u64, request: PageRequest) -> Self {
        Page { items, total, total_is_exact: true, page: request.page.max(1), per_page: request.per_page.max(1) }
    }

    /// The number of pages (at least 1); when the total is not exact, the
    /// number of pages known so far.
    pub fn pages(&self) -> u64 {
        self.total.div_ceil(u64::from(self.per_page.max(1))).max(1)
    }
}

/// One row of the group list: the `exceptions` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSummary {
    /// The fingerprint (primary key).
    pub hash: String,
    /// The exception type name.
    pub exception_name: String,
    /// The latest message.
    pub message: String,
    /// The latest request method, if any.
    pub method: Option<String>,
    /// The latest request path (or route), if any.
    pub path: Option<String>,
    /// The latest host.
    pub host: String,
    /// How many times it happened.
    pub count: u64,
    /// The first occurrence.
    pub created_on: Timestamp,
    /// The latest occurrence.
    pub last_seen: Timestamp,
    /// Triage status.
    pub status: Status,
    /// Whether a notification was sent.
    pub notification_sent: bool,
    /// The ticket raised for it, if any.
    pub ticket_raised: Option<String>,
}

/// One group with the details of its latest occurrence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// The list row.
    #[serde(flatten)]
    pub summary: GroupSummary,
    /// The readable traceback of the latest occurrence, with the locals of each frame.
    pub traceback: String,
    /// The request data of the latest occurrence, as JSON text.
    pub request_data: Option<String>,
}

/// The error beneath a [`StoreError`], boxed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a store failed.
///
/// [`kind`](StoreError::kind) tells the writer whether to retry, and
/// [`source`](std::error::Error::source) gives the database's own error.
///
/// ```
/// use error_tracker::{Cause, StoreError, StoreErrorKind};
/// let e = StoreError::Database(Cause::of(std::io::Error::other("constraint failed")));
/// assert_eq!(e.kind(), StoreErrorKind::Permanent);
/// assert_eq!(e.to_string(), "store error: constraint failed");
/// assert!(std::error::Error::source(&e).is_some());
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// The database cannot be opened (transient: it may be later).
    Open {
        /// The path or URL (password masked).
        location: String,
        /// The cause.
        reason: String,
    },
    /// The database is busy or locked by another writer (transient).
    Busy(Cause),
    /// The connection to the database was lost, refused, or timed out
    /// (transient).
    Unavailable(Cause),
    /// The disk or the database is full (transient: space may be freed, and
    /// a smaller batch may fit now).
    Full(Cause),
    /// Any other database error: the database refuses this batch as it is
    /// (permanent).
    Database(Cause),
    /// Stored data that cannot be read back, or a batch that cannot be
    /// serialized (permanent).
    Corrupt(Cause),
    /// The store does not do this (permanent): what a method added to a
    /// store trait later returns by default, for stores written before it.
    Unsupported(&'static str),
}

/// Whether retrying may help: see [`StoreError::kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// Busy, unreachable, or full: the same call may succeed later.
    Transient,
    /// The store refuses this call as it is: retrying it unchanged will fail again.
    Permanent,
}

/// What a [`StoreError`] says, and the error beneath it.
#[derive(Debug)]
pub struct Cause {
    message: String,
    source: Option<BoxError>,
}

impl Cause {
    /// A message with the error it comes from.
    pub fn new(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Cause { message: message.into(), source: Some(source.into()) }
    }

    /// An error's text as the message, and the error as the source.
    pub fn of(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Cause { message: e.to_string(), source: Some(Box::new(e)) }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<String> for Cause {
    fn from(message: String) -> Self {
        Cause { message, source: None }
    }
}

impl From<&str> for Cause {
    fn from(message: &str) -> Self {
        message.to_owned().into()
    }
}

/// The error's text is the message; the error itself is the source.
impl From<BoxError> for Cause {
    fn from(e: BoxError) -> Self {
        Cause { message: e.to_string(), source: Some(e) }
    }
}

impl StoreError {
    /// Whether the writer should retry (see [`StoreErrorKind`]).
    pub fn kind(&self) -> StoreErrorKind {
        match self {
            StoreError::Open { .. } | StoreError::Busy(_) | StoreError::Unavailable(_) | StoreError::Full(_) => {
                StoreErrorKind::Transient
            }
            StoreError::Database(_) | StoreError::Corrupt(_) | StoreError::Unsupported(_) => StoreErrorKind::Permanent,
        }
    }

    fn cause(&self) -> Option<&Cause> {
        match self {
            StoreError::Open { .. } | StoreError::Unsupported(_) => None,
            StoreError::Busy(c)
            | StoreError::Unavailable(c)
            | StoreError::Full(c)
            | StoreError::Database(c)
            | StoreError::Corrupt(c) => Some(c),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Open { location, reason } => write!(f, "cannot open the store at {location}: {reason}"),
            StoreError::Busy(e) => write!(f, "the store is busy: {}", e.message),
            StoreError::Unavailable(e) => write!(f, "the store is unreachable: {}", e.message),
            StoreError::Full(e) => write!(f, "the store is full: {}", e.message),
            StoreError::Database(e) => write!(f, "store error: {}", e.message),
            StoreError::Corrupt(e) => write!(f, "stored data cannot be read: {}", e.message),
            StoreError::Unsupported(what) => write!(f, "this store does not support {what}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause()?.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// `url` with its password replaced by `****`, for messages and `Debug`.
pub(crate) fn mask_password(url: &str) -> String {
    use std::sync::OnceLock;
    static USERINFO: OnceLock<regex::Regex> = OnceLock::new();
    static KEY: OnceLock<regex::Regex> = OnceLock::new();
    let userinfo =
        USERINFO.get_or_init(|| regex::Regex::new(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:/@?#]*:)[^/?#]*@").expect("valid"));
    let key = KEY.get_or_init(|| regex::Regex::new(r"(?i)(\bpassword\s*=\s*)('[^']*'|[^&\s]*)").expect("valid"));
    let s = userinfo.replace(url, "${1}****@");
    key.replace_all(&s, "${1}****").into_owned()
}

/// The readable traceback text stored in `exceptions.traceback`: the error,
/// its sources, each tracked frame with its arguments and locals, then the
/// backtrace.
pub fn render_traceback(o: &Occurrence) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "{}: {}", o.exception_name, o.message);
    for src in &o.sources {
        let _ = writeln!(s, "Caused by: {src}");
    }
    if let Some(p) = &o.panic {
        let _ = writeln!(s, "Panicked at {}", p.location.as_deref().unwrap_or("<unknown>"));
    }
    for fr in &o.frames {
        let at = match (&fr.file, fr.line) {
            (Some(f), Some(l)) => format!(" ({f}:{l})"),
            _ => String::new(),
        };
        let _ = writeln!(s, "\nIn tracked frame {}{at}", fr.function);
        for (kind, vars) in [("arg", &fr.args), ("local", &fr.locals)] {
            for v in vars {
                let _ = writeln!(s, "    {kind} {} = {}", v.name, v.value);
            }
        }
    }
    if !o.backtrace.is_empty() {
        let _ = writeln!(s, "\nBacktrace (innermost first):");
        for (i, fr) in o.backtrace.iter().enumerate() {
            let mark = if fr.in_app { "*" } else { " " };
            let _ = write!(s, "{mark}{i:>3}: {}", fr.function);
            if let Some(file) = &fr.file {
                let _ = write!(s, "\n          at {file}:{}", fr.line.unwrap_or(0));
            }
            s.push('\n');
        }
    }
    s
}

/// `lease_until` of a row that its channel delivered, kept as a marker
/// until the group's other channels are done: no claim takes it, and it
/// tells that the group's notification reached someone.
pub(crate) const DELIVERED: i64 = i64::MAX;

/// The `created_on` text of an outbox row, read back.
pub(crate) fn outbox_created_on(text: &str) -> Result<Timestamp, StoreError> {
    Timestamp::parse(text).ok_or_else(|| StoreError::Corrupt(format!("notification_outbox.created_on {text:?}").into()))
}

/// Now, and the end of a claim of `lease` from now, in Unix milliseconds:
/// the `lease_until` column of `notification_outbox`.
pub(crate) fn lease_clock(lease: Duration) -> (i64, i64) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    (ms(now), ms(now).saturating_add(ms(lease)))
}

/// The hour of `t`, as `group_hours` and [`StoreQuery::hourly_counts`] count them: Unix time / 3600.
pub(crate) fn hour_of(t: Timestamp) -> i64 {
    t.as_secs().div_euclid(3600)
}

/// The hours from the one of `since` to the current one, both included: the
/// slots of [`StoreQuery::hourly_counts`].
pub(crate) fn hours_since(since: Timestamp) -> RangeInclusive<i64> {
    let first = hour_of(since);
    first..=hour_of(Timestamp::now()).max(first)
}
