//! [`PostgresStore`]: one PostgreSQL database shared by a fleet of processes.
//!
//! The tables and columns are those of the SQLite schema, so the same queries
//! work on both; the migrations are in `migrations/postgres/`, applied in
//! order and recorded in the table `error_tracker_migrations`.
//!
//! Counts stay exact with any number of writer processes because every
//! counter is bumped by `INSERT … ON CONFLICT … DO UPDATE SET count =
//! count + excluded.count` inside the database, never read and written back.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use ::postgres::error::SqlState;
use ::postgres::types::ToSql;
use ::postgres::{Client, GenericClient, NoTls, Row, Statement};

use super::backtraces::{BatchBacktraces, missing_backtrace};
use super::batch::FoldedBatch;
use super::memory::{request_data, summary_of};
use super::outbox_created_on;
use super::{
    Cause, ChangeKind, DELIVERED, Group, GroupChange, GroupQuery, GroupSort, GroupSummary, Grouped, OccurrenceAt, Page,
    PageRequest, PendingNotification, Pruned, Retention, Status, StoreError, StoreQuery, StoreWrite, hours_since,
    lease_clock, mask_password, render_traceback,
};
use crate::occurrence::Occurrence;
use crate::timestamp::Timestamp;

/// The migrations, in order. Version N of the schema has the first N applied.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/postgres/0001_initial.sql"),
    include_str!("migrations/postgres/0002_batches.sql"),
    include_str!("migrations/postgres/0003_notification_outbox.sql"),
    include_str!("migrations/postgres/0004_breadcrumbs_and_spans.sql"),
    include_str!("migrations/postgres/0005_list_orders_and_filters.sql"),
];

/// The columns of one stored occurrence (`o`, with its backtrace `b`), in
/// the order [`occurrence_from_row`] reads them: every query of occurrences
/// selects these first, so that adding a column changes one place.
macro_rules! occurrence_select {
    () => {
        "SELECT o.event_id, o.exception_name, o.message, o.sources, b.backtrace, o.thread,
                o.timestamp, o.host, o.pid, o.release, o.panic, o.frames, o.request_data, o.extra,
                o.breadcrumbs, o.spans, o.error_backtrace"
    };
}
/// How many columns `occurrence_select!` names: a query's own columns follow.
const OCCURRENCE_COLUMNS: usize = 17;

/// The advisory lock that serializes migrations when a fleet starts at once.
const MIGRATION_LOCK: i64 = 0x6572_7274_7261_636b; // "errtrack"
/// How long opening a connection may take when the URL does not say.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How many idle connections the readers keep.
const MAX_IDLE_READERS: usize = 8;
/// The longest a read (or a UI action) may wait for the server, for the same
/// reason as [`WRITE_TIMEOUT`]; longer, since a list of many groups may take
/// a while (the server's own `statement_timeout` is 30 s).
const READ_TIMEOUT: Duration = Duration::from_secs(15);
/// How many times one batch is tried before the error goes back to the writer.
const MAX_ATTEMPTS: u32 = 5;
/// The longest a write may wait for the server. A connection can stay open
/// with nothing coming through (a half-open connection, a stuck proxy), and
/// the client library has no read timeout: past this the write is given up
/// as [`StoreError::Unavailable`], its connection left behind, and the next
/// one connects again (the batch id makes a late commit of it harmless).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Server-side limits set on every connection (unless the URL's `options`
/// set them): a statement, a lock wait, and a transaction left idle (the
/// one of a connection given up on) end instead of holding locks forever.
const SESSION_LIMITS: &[(&str, &str)] =
    &[("statement_timeout", "30s"), ("lock_timeout", "5s"), ("idle_in_transaction_session_timeout", "20s")];
/// TCP keepalive: a peer that vanished is noticed within about a minute.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(15);
/// Data sent and not acknowledged for this long ends the connection (Linux).
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the batch ids are kept (see `migrations/postgres/0002_batches.sql`).
const BATCH_ID_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// A [`Store`] in a PostgreSQL database, for fleets: every process writes
/// into the same tables and the UI reads them.
///
/// Select it with `APP_ERROR_DB=postgres://user:password@host/db` (the
/// `postgres` feature). To keep the tables in a schema of their own, set the
/// search path in the URL: `?options=-c%20search_path%3Derrors` (the schema
/// must exist).
///
/// When the server drops the connection, the failing call returns an error
/// and the next one connects again; the writer retries the batch, so nothing
/// is lost.
///
/// ```
/// use error_tracker::{GroupQuery, StoreQuery, store::postgres::PostgresStore};
/// let Ok(url) = std::env::var("ERROR_TRACKER_TEST_PG") else { return };
/// let store = PostgresStore::open(&url, 100).unwrap();
/// let first = store.list_groups(&GroupQuery::default()).unwrap();
/// assert!(first.items.len() as u64 <= first.total);
/// ```
pub struct PostgresStore {
    config: ::postgres::Config,
    location: String,
    cap: u32,
    writer: Mutex<Option<Conn>>,
    readers: Mutex<Vec<Conn>>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").field("location", &self.location).field("cap", &self.cap).finish()
    }
}

/// A connection with the statements prepared on it.
struct Conn {
    client: Client,
    statements: HashMap<&'static str, Statement>,
}

impl Conn {
    fn open(config: &::postgres::Config) -> Result<Self, ::postgres::Error> {
        Ok(Conn { client: config.connect(NoTls)?, statements: HashMap::new() })
    }
}

/// Prepares `sql` once per connection.
fn prepared(
    client: &mut impl GenericClient,
    cache: &mut HashMap<&'static str, Statement>,
    sql: &'static str,
) -> Result<Statement, ::postgres::Error> {
    if let Some(s) = cache.get(sql) {
        return Ok(s.clone());
    }
    let s = client.prepare(sql)?;
    cache.insert(sql, s.clone());
    Ok(s)
}

/// The text of an error, with the server's message when there is one.
fn describe(e: &::postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({}: {})", db.message(), db.severity(), db.code().code()),
        None => {
            let mut s = e.to_string();
            if let Some(src) = std::error::Error::source(e)
                && !s.contains(&src.to_string())
            {
                s = format!("{s}: {src}");
            }
            s
        }
    }
}

/// A deadlock or serialization failure: the transaction was rolled back
/// and trying again is the cure.
fn is_conflict(e: &::postgres::Error) -> bool {
    matches!(e.code(), Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE)
}

/// Whether the connection is no longer usable: closed, broken, or the
/// server ended the session (`pg_terminate_backend`, a restart).
fn is_broken(e: &::postgres::Error, client: &Client) -> bool {
    if e.is_closed() || client.is_closed() {
        return true;
    }
    match e.code() {
        None => e.as_db_error().is_none(),
        Some(c) => {
            let code = c.code();
            code.starts_with("08") || code.starts_with("57P")
        }
    }
}

fn pg_err(e: ::postgres::Error) -> StoreError {
    let busy = is_conflict(&e)
        || matches!(e.code(), Some(c) if *c == SqlState::LOCK_NOT_AVAILABLE || *c == SqlState::CANNOT_CONNECT_NOW);
    // The connection failed (I/O, closed), class 08 (connection exception)
    // or 57 (a statement cancelled by a timeout, the server shutting down):
    // transient, on another connection.
    let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
    let lost =
        e.is_closed() || io || matches!(e.code(), Some(c) if c.code().starts_with("08") || c.code().starts_with("57"));
    // Class 53: insufficient resources (disk full, out of memory, too many connections).
    let full = matches!(e.code(), Some(c) if c.code().starts_with("53"));
    let cause = Cause::new(describe(&e), e);
    if busy {
        StoreError::Busy(cause)
    } else if full {
        StoreError::Full(cause)
    } else if lost {
        StoreError::Unavailable(cause)
    } else {
        StoreError::Database(cause)
    }
}

fn json_err(e: crate::json::Error) -> StoreError {
    StoreError::Corrupt(Cause::of(e))
}

/// PostgreSQL text cannot hold NUL characters: one in a message must not
/// make the batch fail forever, so it is stored as U+FFFD.
fn text(s: &str) -> String {
    if s.contains('\0') { s.replace('\0', "\u{FFFD}") } else { s.to_owned() }
}

fn opt_text(s: Option<&str>) -> Option<String> {
    s.map(text)
}

impl PostgresStore {
    /// Connects to the database at `url` (a `postgres://` URL or a
    /// `key=value` connection string), applies the migrations, and keeps at
    /// most `occurrences_per_group` occurrences per group.
    ///
    /// A server that cannot be reached gives [`StoreError::Open`], whose
    /// location has the password masked.
    pub fn open(url: &str, occurrences_per_group: u32) -> Result<Self, StoreError> {
        let location = mask_password(url);
        let open_err = |reason: String| StoreError::Open { location: location.clone(), reason };
        let mut config = ::postgres::Config::from_str(url).map_err(|e| open_err(describe(&e)))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("error-tracker");
        }
        let mut options = config.get_options().unwrap_or_default().to_owned();
        for (name, value) in SESSION_LIMITS {
            if !options.contains(name) {
                options = format!("{options} -c {name}={value}").trim_start().to_owned();
            }
        }
        config.options(&options);
        config.keepalives(true).keepalives_idle(KEEPALIVE_IDLE);
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(TCP_USER_TIMEOUT);
        }
        let mut conn = Conn::open(&config).map_err(|e| open_err(describe(&e)))?;
        migrate(&mut conn.client).map_err(|e| open_err(describe(&e)))?;
        Ok(Self {
            config,
            location,
            cap: occurrences_per_group.max(1),
            writer: Mutex::new(Some(conn)),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// Where this store connects, with the password masked.
    pub fn location(&self) -> &str {
        &self.location
    }

    fn connect(&self) -> Result<Conn, StoreError> {
        let what = |reason: String| format!("cannot connect to {}: {reason}", self.location);
        Conn::open(&self.config).map_err(|e| {
            let cause = Cause::new(what(describe(&e)), e);
            // Whatever the reason, the database may be reachable later.
            StoreError::Unavailable(cause)
        })
    }

    fn readers(&self) -> MutexGuard<'_, Vec<Conn>> {
        self.readers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on a pooled connection. Every caller is a single statement
    /// that may run twice (a read, or an update that sets a value), so when
    /// the pooled connection turns out to be dead it is run once more on a
    /// fresh one.
    ///
    /// `f` runs on a thread of its own, waited for at most [`READ_TIMEOUT`]:
    /// a half-open connection would otherwise hold the caller (a UI request)
    /// forever. Past it the connection is left to that thread, and the error
    /// is [`StoreError::Unavailable`]; the next call connects again.
    fn with_conn<T, F>(&self, mut f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&mut Client, &mut HashMap<&'static str, Statement>) -> Result<T, ::postgres::Error> + Send + 'static,
    {
        let mut pooled = self.readers().pop();
        loop {
            let was_pooled = pooled.is_some();
            let mut conn = match pooled.take() {
                Some(c) => c,
                None => self.connect()?,
            };
            let (tx, rx) = crossbeam_channel::bounded(1);
            let spawned = std::thread::Builder::new().name("error-tracker-postgres-read".into()).spawn(move || {
                crate::reentry::with_state(crate::reentry::State::Recording, || {
                    let result = f(&mut conn.client, &mut conn.statements);
                    let _ = tx.send((conn, f, result));
                });
            });
            if let Err(e) = spawned {
                return Err(StoreError::Unavailable(Cause::new("cannot start the read's thread", e)));
            }
            let (conn, f_back, result) = rx.recv_timeout(READ_TIMEOUT).map_err(|_| {
                StoreError::Unavailable(
                    format!("no reply from {} within {READ_TIMEOUT:?}; connecting again", self.location).into(),
                )
            })?;
            f = f_back;
            match result {
                Ok(v) => {
                    let mut idle = self.readers();
                    if idle.len() < MAX_IDLE_READERS {
                        idle.push(conn);
                    }
                    return Ok(v);
                }
                Err(e) if is_broken(&e, &conn.client) => {
                    // A dead pool connection: the others are likely dead too.
                    self.readers().clear();
                    if !was_pooled {
                        return Err(pg_err(e));
                    }
                }
                Err(e) => {
                    self.readers().push(conn);
                    return Err(pg_err(e));
                }
            }
        }
    }
}

type Param = Box<dyn ToSql + Sync + Send>;

impl PostgresStore {
    /// One update statement; `params` makes its parameters (again, should
    /// it run twice).
    fn update(&self, sql: &'static str, params: impl Fn() -> Vec<Param> + Send + 'static) -> Result<bool, StoreError> {
        self.with_conn(move |client, cache| {
            let stmt = prepared(client, cache, sql)?;
            let params = params();
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| &**p as &(dyn ToSql + Sync)).collect();
            Ok(client.execute(&stmt, &refs)? > 0)
        })
    }
}

fn migrate(client: &mut Client) -> Result<(), ::postgres::Error> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS error_tracker_migrations (
            version    INTEGER PRIMARY KEY,
            applied_on TEXT NOT NULL
        )",
    )?;
    let version: i32 = tx.query_one("SELECT coalesce(max(version), 0) FROM error_tracker_migrations", &[])?.get(0);
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        tx.batch_execute(sql)?;
        tx.execute(
            "INSERT INTO error_tracker_migrations (version, applied_on) VALUES ($1, $2)",
            &[&(i as i32 + 1), &Timestamp::now().to_string()],
        )?;
    }
    tx.commit()
}

/// Claims the batch's id; no row back: a write of the batch committed already.
const CLAIM_BATCH: &str = "INSERT INTO error_tracker_batches (id, written_on) VALUES ($1, $2)
    ON CONFLICT (id) DO NOTHING RETURNING id";

/// Forgets the ids of batches written long ago (a retry comes within seconds).
const FORGET_BATCHES: &str = "DELETE FROM error_tracker_batches WHERE written_on < $1";

const LOCK_GROUPS: &str = "SELECT hash, status FROM exceptions WHERE hash = ANY($1::text[]) ORDER BY hash FOR UPDATE";

/// The start of the groups' upsert: insert new groups, count, and reopen
/// resolved ones. What follows says which of the group's columns change.
macro_rules! upsert_groups_head {
    () => {
        "
    INSERT INTO exceptions AS e (hash, host, path, method, request_data, exception_name, message, traceback,
                                 count, created_on, last_seen)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                         $8::text[], $9::int8[], $10::text[], $11::text[])
    ON CONFLICT (hash) DO UPDATE SET
        count = e.count + excluded.count,
        status = CASE e.status WHEN 'resolved' THEN 'unresolved' ELSE e.status END,"
    };
}

const UPSERT_GROUPS: &str = concat!(
    upsert_groups_head!(),
    "
        host = CASE WHEN excluded.last_seen >= e.last_seen THEN excluded.host ELSE e.host END,
        path = CASE WHEN excluded.last_seen >= e.last_seen THEN excluded.path ELSE e.path END,
        method = CASE WHEN excluded.last_seen >= e.last_seen THEN excluded.method ELSE e.method END,
        request_data = CASE WHEN excluded.last_seen >= e.last_seen THEN excluded.request_data ELSE e.request_data END,
        message = CASE WHEN excluded.last_seen >= e.last_seen THEN excluded.message ELSE e.message END,
        traceback = CASE WHEN excluded.last_seen >= e.last_seen THEN excluded.traceback ELSE e.traceback END,
        last_seen = GREATEST(e.last_seen, excluded.last_seen)
    RETURNING hash, count, (xmax = 0) AS inserted"
);

/// [`UPSERT_GROUPS`] for the groups the batch only counts: they keep their
/// detail (see [`Grouped::count_only`]).
const UPSERT_GROUP_COUNTS: &str = concat!(
    upsert_groups_head!(),
    "
        last_seen = GREATEST(e.last_seen, excluded.last_seen)
    RETURNING hash, count, (xmax = 0) AS inserted"
);

const INSERT_OCCURRENCES: &str = "
    INSERT INTO occurrences (event_id, hash, timestamp, times, exception_name, message, sources, host, pid,
                             thread, release, panic, request_data, frames, backtrace_key, extra,
                             breadcrumbs, spans, error_backtrace)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::text[], $6::text[], $7::text[],
                         $8::text[], $9::int8[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[],
                         $15::int8[], $16::text[], $17::text[], $18::text[], $19::text[])";

const INSERT_BACKTRACES: &str = "
    INSERT INTO backtraces (hash, backtrace_key, backtrace)
    SELECT * FROM unnest($1::text[], $2::int8[], $3::text[])
    ON CONFLICT (hash, backtrace_key) DO NOTHING";

/// Trims the groups to their newest occurrences, and tells the backtraces
/// the trimmed rows held.
const TRIM_OCCURRENCES: &str = "
    DELETE FROM occurrences WHERE id IN (
        SELECT id FROM (
            SELECT id, row_number() OVER (PARTITION BY hash ORDER BY id DESC) AS n
            FROM occurrences WHERE hash = ANY($1::text[])
        ) ranked WHERE n > $2)
    RETURNING hash, backtrace_key";

/// Deletes the given backtraces of groups that no occurrence holds any more.
const DELETE_ORPHAN_BACKTRACES: &str = "
    DELETE FROM backtraces AS b USING unnest($1::text[], $2::int8[]) AS t (hash, backtrace_key)
    WHERE b.hash = t.hash AND b.backtrace_key = t.backtrace_key
        AND NOT EXISTS (SELECT 1 FROM occurrences AS o WHERE o.hash = t.hash AND o.backtrace_key = t.backtrace_key)";

const ADD_HOURS: &str = "
    INSERT INTO group_hours AS h (hash, hour, count)
    SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[])
    ON CONFLICT (hash, hour) DO UPDATE SET count = h.count + excluded.count";

/// A batch turned into the columns of the statements that write it, once,
/// so that a retry does not serialize it again.
#[derive(Default)]
struct Plan {
    /// The batch's id: the same batch written again is refused (see
    /// `migrations/postgres/0002_batches.sql`).
    batch_id: String,
    /// The groups in the order they first appear in the batch.
    order: Vec<String>,
    /// `exceptions` columns, one entry per group, sorted by hash so that
    /// concurrent writers lock rows in the same order.
    hash: Vec<String>,
    host: Vec<String>,
    path: Vec<Option<String>>,
    method: Vec<Option<String>>,
    request_data: Vec<Option<String>>,
    exception_name: Vec<String>,
    message: Vec<String>,
    traceback: Vec<String>,
    count: Vec<i64>,
    created_on: Vec<String>,
    last_seen: Vec<String>,
    /// Per group: whether the batch has detail for it, else it only counts
    /// (see [`Grouped::count_only`]).
    detailed: Vec<bool>,
    /// `occurrences` columns: only those that can survive the cap.
    o_event_id: Vec<String>,
    o_hash: Vec<String>,
    o_timestamp: Vec<String>,
    o_times: Vec<i64>,
    o_exception_name: Vec<String>,
    o_message: Vec<String>,
    o_sources: Vec<String>,
    o_host: Vec<String>,
    o_pid: Vec<i64>,
    o_thread: Vec<Option<String>>,
    o_release: Vec<Option<String>>,
    o_panic: Vec<Option<String>>,
    o_request_data: Vec<Option<String>>,
    o_frames: Vec<String>,
    o_backtrace_key: Vec<i64>,
    o_extra: Vec<String>,
    o_breadcrumbs: Vec<Option<String>>,
    o_spans: Vec<Option<String>>,
    o_error_backtrace: Vec<Option<String>>,
    /// `backtraces` columns: each distinct backtrace of a group in the batch,
    /// sorted by (hash, key).
    b_hash: Vec<String>,
    b_key: Vec<i64>,
    b_backtrace: Vec<String>,
    /// The (hash, key) pairs of `b_hash` and `b_key`.
    b_fresh: HashSet<(String, i64)>,
    /// `group_hours` columns, sorted by (hash, hour).
    h_hash: Vec<String>,
    h_hour: Vec<i64>,
    h_count: Vec<i64>,
}

impl Plan {
    fn new(batch: &[Grouped], cap: u32) -> Result<Self, StoreError> {
        let folded = FoldedBatch::new(batch);
        let order = folded.order.iter().map(|h| (*h).to_owned()).collect();
        let mut id = sha1_smol::Sha1::new();
        for g in batch {
            let times = g.times.to_le_bytes();
            let at = g.occurrence.timestamp.to_string();
            for part in [g.hash.as_bytes(), g.occurrence.id.as_bytes(), &times, at.as_bytes()] {
                id.update(&(part.len() as u64).to_le_bytes());
                id.update(part);
            }
        }
        let mut p = Plan { batch_id: id.digest().to_string(), order, ..Plan::default() };
        let mut sorted: Vec<_> = folded.groups.iter().map(|(h, w)| (*h, w)).collect();
        sorted.sort_unstable_by_key(|(h, _)| *h);
        for (hash, w) in sorted {
            let s = summary_of(hash, w.latest, w.times);
            p.hash.push(text(hash));
            p.host.push(text(&s.host));
            p.path.push(opt_text(s.path.as_deref()));
            p.method.push(opt_text(s.method.as_deref()));
            p.request_data.push(request_data(w.latest));
            p.exception_name.push(text(&s.exception_name));
            p.message.push(text(&s.message));
            p.traceback.push(text(&render_traceback(w.latest)));
            p.count.push(w.times as i64);
            p.created_on.push(w.first.to_string());
            p.last_seen.push(w.last_seen.to_string());
            p.detailed.push(w.detailed);
        }

        let stored: Vec<&Grouped> = folded.to_store(cap).collect();
        let backtraces = BatchBacktraces::new(stored.iter().copied());
        let mut distinct: Vec<_> = backtraces.distinct.iter().collect();
        distinct.sort_unstable_by_key(|(hash, key, _)| (*hash, *key));
        for &&(hash, key, frames) in &distinct {
            p.b_hash.push(text(hash));
            p.b_key.push(key);
            p.b_backtrace.push(text(&crate::json::to_string(frames).map_err(json_err)?));
            p.b_fresh.insert((text(hash), key));
        }

        for (g, &key) in stored.iter().zip(&backtraces.keys) {
            let o = &g.occurrence;
            p.o_event_id.push(text(&o.id));
            p.o_hash.push(text(&g.hash));
            p.o_timestamp.push(o.timestamp.to_string());
            p.o_times.push(g.times as i64);
            p.o_exception_name.push(text(&o.exception_name));
            p.o_message.push(text(&o.message));
            p.o_sources.push(crate::json::to_string(&o.sources).map_err(json_err)?);
            p.o_host.push(text(&o.host));
            p.o_pid.push(i64::from(o.pid));
            p.o_thread.push(opt_text(o.thread.as_deref()));
            p.o_release.push(opt_text(o.release.as_deref()));
            p.o_panic.push(o.panic.as_ref().map(crate::json::to_string).transpose().map_err(json_err)?);
            p.o_request_data.push(request_data(o));
            p.o_frames.push(crate::json::to_string(&o.frames).map_err(json_err)?);
            p.o_backtrace_key.push(key);
            p.o_extra.push(crate::json::to_string(&o.extra).map_err(json_err)?);
            p.o_breadcrumbs.push(optional_json(&o.breadcrumbs)?);
            p.o_spans.push(optional_json(&o.spans)?);
            p.o_error_backtrace.push(optional_json(&o.error_backtrace)?);
        }

        let mut hours: Vec<((&str, i64), u64)> = folded.hours.into_iter().collect();
        hours.sort_unstable();
        for ((hash, hour), n) in hours {
            p.h_hash.push(text(hash));
            p.h_hour.push(hour);
            p.h_count.push(n as i64);
        }
        Ok(p)
    }

    /// Upserts the groups with detail (`detailed`), or those the batch only counts.
    fn upsert_groups(
        &self,
        tx: &mut ::postgres::Transaction<'_>,
        statements: &mut HashMap<&'static str, Statement>,
        detailed: bool,
    ) -> Result<Vec<::postgres::Row>, ::postgres::Error> {
        fn pick<T: Clone>(column: &[T], keep: &[bool], want: bool) -> Vec<T> {
            column.iter().zip(keep).filter(|(_, k)| **k == want).map(|(v, _)| v.clone()).collect()
        }
        let keep = &self.detailed;
        let upsert = prepared(tx, statements, if detailed { UPSERT_GROUPS } else { UPSERT_GROUP_COUNTS })?;
        tx.query(
            &upsert,
            &[
                &pick(&self.hash, keep, detailed),
                &pick(&self.host, keep, detailed),
                &pick(&self.path, keep, detailed),
                &pick(&self.method, keep, detailed),
                &pick(&self.request_data, keep, detailed),
                &pick(&self.exception_name, keep, detailed),
                &pick(&self.message, keep, detailed),
                &pick(&self.traceback, keep, detailed),
                &pick(&self.count, keep, detailed),
                &pick(&self.created_on, keep, detailed),
                &pick(&self.last_seen, keep, detailed),
            ],
        )
    }

    /// Writes the plan in one transaction. The error says whether it
    /// happened while committing, when the outcome is unknown.
    fn run(&self, conn: &mut Conn, cap: u32) -> Result<Vec<GroupChange>, (::postgres::Error, bool)> {
        let Conn { client, statements } = conn;
        let not_committing = |e| (e, false);
        let mut tx = client.transaction().map_err(not_committing)?;

        // First the batch's id: if a write of this batch committed already
        // (its COMMIT's reply was lost), there is nothing more to do.
        let claim = prepared(&mut tx, statements, CLAIM_BATCH).map_err(not_committing)?;
        let now = Timestamp::now();
        if tx.query(&claim, &[&self.batch_id, &now.to_string()]).map_err(not_committing)?.is_empty() {
            tx.rollback().map_err(not_committing)?;
            return Ok(Vec::new());
        }
        let forget = prepared(&mut tx, statements, FORGET_BATCHES).map_err(not_committing)?;
        let before = now.saturating_sub(BATCH_ID_RETENTION).to_string();
        tx.execute(&forget, &[&before]).map_err(not_committing)?;

        let lock = prepared(&mut tx, statements, LOCK_GROUPS).map_err(not_committing)?;
        let before: HashMap<String, String> =
            tx.query(&lock, &[&self.hash]).map_err(not_committing)?.iter().map(|r| (r.get(0), r.get(1))).collect();

        let mut rows = self.upsert_groups(&mut tx, statements, true).map_err(not_committing)?;
        if self.detailed.contains(&false) {
            rows.extend(self.upsert_groups(&mut tx, statements, false).map_err(not_committing)?);
        }
        let added: HashMap<&str, i64> = self.hash.iter().map(String::as_str).zip(self.count.iter().copied()).collect();
        let mut changes: Vec<GroupChange> = Vec::with_capacity(rows.len());
        for r in rows {
            let hash: String = r.get(0);
            let count: i64 = r.get(1);
            let inserted: bool = r.get(2);
            let kind = match before.get(&hash).map(String::as_str) {
                Some("resolved") => ChangeKind::Regressed,
                Some(_) => ChangeKind::Recurring,
                // Another writer may have created it since the lock query.
                None if inserted => ChangeKind::New,
                None => ChangeKind::Recurring,
            };
            let added = added.get(hash.as_str()).copied().unwrap_or(0) as u64;
            changes.push(GroupChange { hash, kind, count: count as u64, added });
        }

        let insert = prepared(&mut tx, statements, INSERT_BACKTRACES).map_err(not_committing)?;
        tx.execute(&insert, &[&self.b_hash, &self.b_key, &self.b_backtrace]).map_err(not_committing)?;
        let insert = prepared(&mut tx, statements, INSERT_OCCURRENCES).map_err(not_committing)?;
        tx.execute(
            &insert,
            &[
                &self.o_event_id,
                &self.o_hash,
                &self.o_timestamp,
                &self.o_times,
                &self.o_exception_name,
                &self.o_message,
                &self.o_sources,
                &self.o_host,
                &self.o_pid,
                &self.o_thread,
                &self.o_release,
                &self.o_panic,
                &self.o_request_data,
                &self.o_frames,
                &self.o_backtrace_key,
                &self.o_extra,
                &self.o_breadcrumbs,
                &self.o_spans,
                &self.o_error_backtrace,
            ],
        )
        .map_err(not_committing)?;
        // The trim tells which backtraces its rows held; those the batch did
        // not just store may have lost their last occurrence.
        let trim = prepared(&mut tx, statements, TRIM_OCCURRENCES).map_err(not_committing)?;
        let mut maybe_orphans: HashSet<(String, i64)> = HashSet::new();
        for r in tx.query(&trim, &[&self.hash, &i64::from(cap)]).map_err(not_committing)? {
            let hash_key: (String, i64) = (r.get(0), r.get(1));
            if !self.b_fresh.contains(&hash_key) {
                maybe_orphans.insert(hash_key);
            }
        }
        if !maybe_orphans.is_empty() {
            let (hashes, keys): (Vec<String>, Vec<i64>) = maybe_orphans.into_iter().unzip();
            let delete = prepared(&mut tx, statements, DELETE_ORPHAN_BACKTRACES).map_err(not_committing)?;
            tx.execute(&delete, &[&hashes, &keys]).map_err(not_committing)?;
        }
        let hours = prepared(&mut tx, statements, ADD_HOURS).map_err(not_committing)?;
        tx.execute(&hours, &[&self.h_hash, &self.h_hour, &self.h_count]).map_err(not_committing)?;

        tx.commit().map_err(|e| (e, true))?;
        // The order of the batch, as the other stores report it.
        let first_seen: HashMap<&str, usize> = self.order.iter().enumerate().map(|(i, h)| (h.as_str(), i)).collect();
        changes.sort_by_key(|c| first_seen.get(c.hash.as_str()).copied());
        Ok(changes)
    }
}

impl StoreWrite for PostgresStore {
    fn write(&self, batch: &[Grouped]) -> Result<Vec<GroupChange>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let plan = std::sync::Arc::new(Plan::new(batch, self.cap)?);
        let mut slot = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let mut attempt = 0;
        loop {
            attempt += 1;
            let conn = match slot.take() {
                Some(c) => c,
                None => self.connect()?,
            };
            let (conn, result) = self.run_with_timeout(&plan, conn)?;
            let (e, committing) = match result {
                Ok(changes) => {
                    *slot = Some(conn);
                    return Ok(changes);
                }
                Err(failure) => failure,
            };
            let broken = is_broken(&e, &conn.client);
            if !broken {
                *slot = Some(conn);
            }
            // A connection that died before COMMIT was sent wrote nothing,
            // so the batch can go again at once. One that died while
            // committing may or may not have written: the writer retries it
            // later, and the batch id makes that count once.
            let again = (broken && !committing) || is_conflict(&e);
            if !again || attempt >= MAX_ATTEMPTS {
                return Err(pg_err(e));
            }
            if !broken {
                std::thread::sleep(Duration::from_millis(5 << attempt));
            }
        }
    }

    /// Deletes by age, then past the group cap, least recently seen first,
    /// in one transaction, with the counts added to the table `pruned`.
    /// The size cap is left to the database's administration: PostgreSQL
    /// reuses the space of deleted rows only after a vacuum.
    fn prune(&self, r: &Retention) -> Result<Pruned, StoreError> {
        let cutoff = r.max_age.map(|age| Timestamp::now().saturating_sub(age).to_string());
        let max_groups = r.max_groups.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        let now = Timestamp::now().to_string();
        let mut slot = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let conn = match slot.as_mut() {
            Some(c) => c,
            None => slot.insert(self.connect()?),
        };
        let result = (|| -> Result<Pruned, ::postgres::Error> {
            let mut tx = conn.client.transaction()?;
            let mut by_reason: Vec<(&str, Pruned)> = Vec::new();
            let sum = |rows: Vec<Row>| {
                let mut p = Pruned::default();
                for r in rows {
                    p.add(r.get::<_, i64>(0).max(0) as u64);
                }
                p
            };
            if let Some(cutoff) = &cutoff {
                by_reason.push((
                    "age",
                    sum(tx.query("DELETE FROM exceptions WHERE last_seen < $1 RETURNING count", &[cutoff])?),
                ));
            }
            if let Some(max) = max_groups {
                let n: i64 = tx.query_one("SELECT count(*) FROM exceptions", &[])?.get(0);
                if n > max {
                    let rows = tx.query(
                        "DELETE FROM exceptions WHERE hash IN
                            (SELECT hash FROM exceptions ORDER BY last_seen, hash LIMIT $1) RETURNING count",
                        &[&(n - max)],
                    )?;
                    by_reason.push(("groups", sum(rows)));
                }
            }
            let mut total = Pruned::default();
            for (reason, p) in by_reason.into_iter().filter(|(_, p)| p.groups > 0) {
                tx.execute(
                    "INSERT INTO pruned AS p (reason, groups, occurrences, last_pruned) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (reason) DO UPDATE SET groups = p.groups + excluded.groups,
                         occurrences = p.occurrences + excluded.occurrences, last_pruned = excluded.last_pruned",
                    &[&reason, &(p.groups as i64), &(p.occurrences as i64), &now],
                )?;
                total.groups += p.groups;
                total.occurrences += p.occurrences;
            }
            tx.commit()?;
            Ok(total)
        })();
        match result {
            Ok(p) => Ok(p),
            Err(e) => {
                if is_broken(&e, &conn.client) {
                    *slot = None;
                }
                Err(pg_err(e))
            }
        }
    }
}

type RunResult = Result<Vec<GroupChange>, (::postgres::Error, bool)>;

impl PostgresStore {
    /// Runs the plan on `conn` on a thread of its own, waiting at most
    /// [`WRITE_TIMEOUT`]: the client library would wait forever on a
    /// connection that stays open with nothing coming through. Past the
    /// timeout, the connection is left to that thread (which ends when the
    /// socket does) and the error is [`StoreError::Unavailable`].
    fn run_with_timeout(&self, plan: &std::sync::Arc<Plan>, mut conn: Conn) -> Result<(Conn, RunResult), StoreError> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let (plan, cap) = (plan.clone(), self.cap);
        let spawned = std::thread::Builder::new().name("error-tracker-postgres-write".into()).spawn(move || {
            // Not recorded: this is the tracker's own thread.
            crate::reentry::with_state(crate::reentry::State::Recording, || {
                let result = plan.run(&mut conn, cap);
                let _ = tx.send((conn, result));
            });
        });
        if let Err(e) = spawned {
            return Err(StoreError::Unavailable(Cause::new("cannot start the write's thread", e)));
        }
        rx.recv_timeout(WRITE_TIMEOUT).map_err(|_| {
            StoreError::Unavailable(
                format!("no reply from {} within {WRITE_TIMEOUT:?}; connecting again", self.location).into(),
            )
        })
    }
}

impl StoreQuery for PostgresStore {
    fn list_groups(&self, q: &GroupQuery) -> Result<Page<GroupSummary>, StoreError> {
        use queries::{COUNT, LIST_BY_COUNT, LIST_BY_FIRST_SEEN, LIST_BY_LAST_SEEN};
        let list_sql = match q.sort {
            GroupSort::LastSeen => LIST_BY_LAST_SEEN,
            GroupSort::FirstSeen => LIST_BY_FIRST_SEEN,
            GroupSort::Count => LIST_BY_COUNT,
        };
        let (host, release) = (q.host.clone(), q.release.clone());
        let pattern = q.search.as_deref().filter(|s| !s.is_empty()).map(|s| {
            let escaped = s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            format!("%{}%", text(&escaped))
        });
        let status = q.status.map(Status::as_str);
        let (limit, offset) = (q.page.limit() as i64, q.page.offset() as i64);
        let (total, rows) = self.with_conn(move |client, cache| {
            let count = prepared(client, cache, COUNT)?;
            let total: i64 = client.query_one(&count, &[&status, &pattern, &host, &release])?.get(0);
            let list = prepared(client, cache, list_sql)?;
            Ok((total, client.query(&list, &[&status, &pattern, &host, &release, &limit, &offset])?))
        })?;
        let items = rows.iter().map(summary_from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::exact(items, total as u64, q.page))
    }

    fn group(&self, hash: &str) -> Result<Option<Group>, StoreError> {
        const SQL: &str = queries::GROUP;
        let hash = hash.to_owned();
        let row = self.with_conn(move |client, cache| {
            let stmt = prepared(client, cache, SQL)?;
            client.query_opt(&stmt, &[&hash])
        })?;
        row.map(|r| {
            Ok(Group {
                summary: summary_from_row(&r)?,
                traceback: r.try_get(12).map_err(corrupt)?,
                request_data: r.try_get(13).map_err(corrupt)?,
            })
        })
        .transpose()
    }

    fn occurrences(&self, hash: &str, page: PageRequest) -> Result<Page<Occurrence>, StoreError> {
        const COUNT: &str = "SELECT count(*) FROM occurrences WHERE hash = $1";
        const LIST: &str = concat!(
            occurrence_select!(),
            " FROM occurrences AS o LEFT JOIN backtraces AS b USING (hash, backtrace_key)
              WHERE o.hash = $1 ORDER BY o.id DESC LIMIT $2 OFFSET $3"
        );
        let (limit, offset) = (page.limit() as i64, page.offset() as i64);
        let hash = hash.to_owned();
        let (total, rows) = self.with_conn(move |client, cache| {
            let count = prepared(client, cache, COUNT)?;
            let total: i64 = client.query_one(&count, &[&hash])?.get(0);
            let list = prepared(client, cache, LIST)?;
            Ok((total, client.query(&list, &[&hash, &limit, &offset])?))
        })?;
        let items = rows.iter().map(occurrence_from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::exact(items, total as u64, page))
    }

    fn occurrence(&self, hash: &str, event_id: &str) -> Result<Option<OccurrenceAt>, StoreError> {
        // The group's index bounds the scan to its stored occurrences (at
        // most `occurrences_per_group`): event_id needs no index.
        const ONE: &str = concat!(
            occurrence_select!(),
            ", o.id,
                                  (SELECT event_id FROM occurrences WHERE hash = o.hash AND id > o.id
                                   ORDER BY id ASC LIMIT 1),
                                  (SELECT event_id FROM occurrences WHERE hash = o.hash AND id < o.id
                                   ORDER BY id DESC LIMIT 1),
                                  (SELECT count(*) FROM occurrences WHERE hash = o.hash AND id >= o.id),
                                  (SELECT count(*) FROM occurrences WHERE hash = o.hash)
                           FROM occurrences AS o LEFT JOIN backtraces AS b USING (hash, backtrace_key)
                           WHERE o.hash = $1 AND o.event_id = $2 ORDER BY o.id DESC LIMIT 1"
        );
        let (hash, event_id) = (hash.to_owned(), event_id.to_owned());
        // One statement: one snapshot for the row, its neighbours and the counts.
        let row = self.with_conn(move |client, cache| {
            let stmt = prepared(client, cache, ONE)?;
            client.query_opt(&stmt, &[&hash, &event_id])
        })?;
        let Some(r) = row else { return Ok(None) };
        let count = |i: usize| -> Result<u64, StoreError> { Ok(r.try_get::<_, i64>(i).map_err(corrupt)? as u64) };
        Ok(Some(OccurrenceAt::new(
            occurrence_from_row(&r)?,
            count(OCCURRENCE_COLUMNS + 3)?,
            count(OCCURRENCE_COLUMNS + 4)?,
            r.try_get(OCCURRENCE_COLUMNS + 1).map_err(corrupt)?,
            r.try_get(OCCURRENCE_COLUMNS + 2).map_err(corrupt)?,
        )))
    }

    fn hourly_counts(&self, hash: &str, since: Timestamp) -> Result<Vec<u64>, StoreError> {
        const SQL: &str = "SELECT hour, count FROM group_hours WHERE hash = $1 AND hour BETWEEN $2 AND $3";
        let hours = hours_since(since);
        let (first, last) = (*hours.start(), *hours.end());
        let hash = hash.to_owned();
        let rows = self.with_conn(move |client, cache| {
            let stmt = prepared(client, cache, SQL)?;
            client.query(&stmt, &[&hash, &first, &last])
        })?;
        let mut found: HashMap<i64, u64> = HashMap::new();
        for r in rows {
            let hour: i64 = r.try_get(0).map_err(corrupt)?;
            let count: i64 = r.try_get(1).map_err(corrupt)?;
            found.insert(hour, count as u64);
        }
        Ok(hours.map(|h| found.get(&h).copied().unwrap_or(0)).collect())
    }

    fn delete_group(&self, hash: &str) -> Result<bool, StoreError> {
        let hash = hash.to_owned();
        self.update("DELETE FROM exceptions WHERE hash = $1", move || vec![Box::new(hash.clone())])
    }

    fn set_status(&self, hash: &str, status: Status) -> Result<bool, StoreError> {
        let hash = hash.to_owned();
        self.update("UPDATE exceptions SET status = $2 WHERE hash = $1", move || {
            vec![Box::new(hash.clone()), Box::new(status.as_str())]
        })
    }

    fn set_notification_sent(&self, hash: &str, sent: bool) -> Result<bool, StoreError> {
        let hash = hash.to_owned();
        self.update("UPDATE exceptions SET notification_sent = $2 WHERE hash = $1", move || {
            vec![Box::new(hash.clone()), Box::new(sent)]
        })
    }

    fn set_ticket(&self, hash: &str, ticket: Option<&str>) -> Result<bool, StoreError> {
        let (hash, ticket) = (hash.to_owned(), opt_text(ticket));
        self.update("UPDATE exceptions SET ticket_raised = $2 WHERE hash = $1", move || {
            vec![Box::new(hash.clone()), Box::new(ticket.clone())]
        })
    }

    // The notification outbox (migration postgres/0003). Each call is one
    // transaction that may run twice on a fresh connection (see `with_conn`).

    fn put_pending_notifications(&self, items: &[PendingNotification], lease: Duration) -> Result<(), StoreError> {
        const PUT: &str = "
            INSERT INTO notification_outbox AS o (channel, hash, kind, id, payload, created_on, lease_until)
            SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS (SELECT 1 FROM exceptions WHERE hash = $2)
            ON CONFLICT (channel, hash, kind) DO UPDATE SET
                id = excluded.id, payload = excluded.payload, lease_until = excluded.lease_until";
        const OWED: &str = "UPDATE exceptions SET notification_sent = false WHERE hash = $1";
        let (_, until) = lease_clock(lease);
        let items = items.to_vec();
        self.with_conn(move |client, cache| {
            let put = prepared(client, cache, PUT)?;
            let owed = prepared(client, cache, OWED)?;
            let mut tx = client.transaction()?;
            for i in &items {
                let (payload, created) = (text(&i.payload), i.created_on.to_string());
                tx.execute(&put, &[&i.channel, &i.hash, &i.kind, &i.id, &payload, &created, &until])?;
                tx.execute(&owed, &[&i.hash])?;
            }
            tx.commit()
        })
    }

    fn claim_pending_notifications(
        &self,
        channel: &str,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<PendingNotification>, StoreError> {
        // SKIP LOCKED: two processes claiming at once take different rows.
        const CLAIM: &str = "
            UPDATE notification_outbox SET lease_until = $3
            WHERE (channel, id) IN (SELECT channel, id FROM notification_outbox
                                    WHERE channel = $1 AND lease_until <= $2
                                    ORDER BY created_on LIMIT $4 FOR UPDATE SKIP LOCKED)
            RETURNING id, channel, hash, kind, payload, created_on";
        let (now, until) = lease_clock(lease);
        let channel = channel.to_owned();
        let rows = self.with_conn(move |client, cache| {
            let stmt = prepared(client, cache, CLAIM)?;
            client.query(&stmt, &[&channel, &now, &until, &i64::from(limit)])
        })?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let created: String = r.try_get(5).map_err(corrupt)?;
            out.push(PendingNotification {
                id: r.try_get(0).map_err(corrupt)?,
                channel: r.try_get(1).map_err(corrupt)?,
                hash: r.try_get(2).map_err(corrupt)?,
                kind: r.try_get(3).map_err(corrupt)?,
                payload: r.try_get(4).map_err(corrupt)?,
                created_on: outbox_created_on(&created)?,
            });
        }
        out.sort_by_key(|a| a.created_on);
        Ok(out)
    }

    fn release_pending_notification(&self, channel: &str, id: &str) -> Result<(), StoreError> {
        let (channel, id) = (channel.to_owned(), id.to_owned());
        self.update(
            "UPDATE notification_outbox SET lease_until = 0 WHERE channel = $1 AND id = $2 AND lease_until < $3",
            move || vec![Box::new(channel.clone()), Box::new(id.clone()), Box::new(DELIVERED)],
        )
        .map(|_| ())
    }

    fn finish_pending_notification(&self, channel: &str, id: &str, delivered: bool) -> Result<bool, StoreError> {
        const MARK: &str = "UPDATE notification_outbox SET lease_until = $3
                            WHERE channel = $1 AND id = $2 AND lease_until < $3 RETURNING hash";
        const FORGET: &str = "DELETE FROM notification_outbox
                              WHERE channel = $1 AND id = $2 AND lease_until < $3 RETURNING hash";
        // Locks the group's row: two channels finishing at once see each other.
        const LOCK: &str = "SELECT 1 FROM exceptions WHERE hash = $1 FOR UPDATE";
        const OWED: &str = "SELECT 1 FROM notification_outbox WHERE hash = $1 AND lease_until < $2";
        const SENT: &str = "UPDATE exceptions SET notification_sent = true WHERE hash = $1 AND EXISTS
                            (SELECT 1 FROM notification_outbox WHERE hash = $1 AND lease_until = $2)";
        const DONE: &str = "DELETE FROM notification_outbox WHERE hash = $1";
        let (channel, id) = (channel.to_owned(), id.to_owned());
        self.with_conn(move |client, cache| {
            let end = prepared(client, cache, if delivered { MARK } else { FORGET })?;
            let (lock, owed, sent, done) = (
                prepared(client, cache, LOCK)?,
                prepared(client, cache, OWED)?,
                prepared(client, cache, SENT)?,
                prepared(client, cache, DONE)?,
            );
            let mut tx = client.transaction()?;
            let hash: Option<String> = tx.query_opt(&end, &[&channel, &id, &DELIVERED])?.map(|r| r.get(0));
            if let Some(hash) = &hash {
                tx.query_opt(&lock, &[hash])?;
                if tx.query_opt(&owed, &[hash, &DELIVERED])?.is_none() {
                    tx.execute(&sent, &[hash, &DELIVERED])?;
                    tx.execute(&done, &[hash])?;
                }
            }
            tx.commit()?;
            Ok(hash.is_some())
        })
    }
}

/// The read queries, spelled out once (`concat!` needs literals).
mod queries {
    macro_rules! summary_columns {
        () => {
            "hash, exception_name, message, method, path, host, count, created_on, last_seen, status, \
             notification_sent, ticket_raised"
        };
    }
    // $1 status, $2 the ILIKE pattern, $3 host, $4 release (migration 0005
    // indexes the last two and the orders).
    macro_rules! filter {
        () => {
            "($1::text IS NULL OR status = $1)
             AND ($2::text IS NULL OR exception_name ILIKE $2 OR message ILIKE $2 OR path ILIKE $2)
             AND ($3::text IS NULL OR host = $3)
             AND ($4::text IS NULL OR hash IN (SELECT hash FROM occurrences WHERE release = $4))"
        };
    }
    macro_rules! list {
        ($order:literal) => {
            concat!(
                "SELECT ",
                summary_columns!(),
                " FROM exceptions WHERE ",
                filter!(),
                " ORDER BY ",
                $order,
                ", hash LIMIT $5 OFFSET $6"
            )
        };
    }
    pub(super) const COUNT: &str = concat!("SELECT count(*) FROM exceptions WHERE ", filter!());
    /// One statement per [`GroupSort`](super::GroupSort): the planner picks the order's index.
    pub(super) const LIST_BY_LAST_SEEN: &str = list!("last_seen DESC");
    pub(super) const LIST_BY_FIRST_SEEN: &str = list!("created_on DESC");
    pub(super) const LIST_BY_COUNT: &str = list!("count DESC");
    pub(super) const GROUP: &str =
        concat!("SELECT ", summary_columns!(), ", traceback, request_data FROM exceptions WHERE hash = $1");
}

fn corrupt(e: ::postgres::Error) -> StoreError {
    StoreError::Corrupt(Cause::new(describe(&e), e))
}

fn timestamp_at(r: &Row, i: usize) -> Result<Timestamp, StoreError> {
    let s: String = r.try_get(i).map_err(corrupt)?;
    Timestamp::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("bad timestamp {s:?}").into()))
}

fn summary_from_row(r: &Row) -> Result<GroupSummary, StoreError> {
    let status: String = r.try_get(9).map_err(corrupt)?;
    Ok(GroupSummary {
        hash: r.try_get(0).map_err(corrupt)?,
        exception_name: r.try_get(1).map_err(corrupt)?,
        message: r.try_get(2).map_err(corrupt)?,
        method: r.try_get(3).map_err(corrupt)?,
        path: r.try_get(4).map_err(corrupt)?,
        host: r.try_get(5).map_err(corrupt)?,
        count: r.try_get::<_, i64>(6).map_err(corrupt)? as u64,
        created_on: timestamp_at(r, 7)?,
        last_seen: timestamp_at(r, 8)?,
        status: status.parse().unwrap_or_default(),
        notification_sent: r.try_get(10).map_err(corrupt)?,
        ticket_raised: r.try_get(11).map_err(corrupt)?,
    })
}

fn occurrence_from_row(r: &Row) -> Result<Occurrence, StoreError> {
    let json = |i: usize| -> Result<String, StoreError> { r.try_get(i).map_err(corrupt) };
    let opt_json = |i: usize| -> Result<Option<String>, StoreError> { r.try_get(i).map_err(corrupt) };
    let id: String = r.try_get(0).map_err(corrupt)?;
    let backtrace = opt_json(4)?.ok_or_else(|| missing_backtrace(&id))?;
    Ok(Occurrence {
        id,
        exception_name: r.try_get(1).map_err(corrupt)?,
        message: r.try_get(2).map_err(corrupt)?,
        sources: crate::json::from_str(&json(3)?).map_err(json_err)?,
        backtrace: crate::json::from_str(&backtrace).map_err(json_err)?,
        thread: r.try_get(5).map_err(corrupt)?,
        timestamp: timestamp_at(r, 6)?,
        host: r.try_get(7).map_err(corrupt)?,
        pid: u32::try_from(r.try_get::<_, i64>(8).map_err(corrupt)?).unwrap_or(0),
        release: r.try_get(9).map_err(corrupt)?,
        panic: opt_json(10)?.map(|p| crate::json::from_str(&p)).transpose().map_err(json_err)?,
        frames: crate::json::from_str(&json(11)?).map_err(json_err)?,
        request: opt_json(12)?.map(|p| crate::json::from_str(&p)).transpose().map_err(json_err)?,
        extra: crate::json::from_str(&json(13)?).map_err(json_err)?,
        site: None,
        breadcrumbs: from_optional_json(opt_json(14)?)?,
        spans: from_optional_json(opt_json(15)?)?,
        error_backtrace: from_optional_json(opt_json(16)?)?,
    })
}

/// A list as its JSON column: NULL when empty, as in the rows written
/// before the column existed.
fn optional_json<T: serde::Serialize>(items: &[T]) -> Result<Option<String>, StoreError> {
    if items.is_empty() { Ok(None) } else { crate::json::to_string(items).map(Some).map_err(json_err) }
}

fn from_optional_json<T: serde::de::DeserializeOwned>(text: Option<String>) -> Result<Vec<T>, StoreError> {
    text.map_or(Ok(Vec::new()), |t| crate::json::from_str(&t).map_err(json_err))
}

#[cfg(test)]
mod tests {
    use super::mask_password;

    #[test]
    fn passwords_are_masked_in_locations() {
        assert_eq!(mask_password("postgres://u:s3cret@db:5432/x"), "postgres://u:****@db:5432/x");
        assert_eq!(mask_password("postgresql://u@db/x"), "postgresql://u@db/x");
        assert_eq!(mask_password("postgres://u:p@ss@db/x?sslmode=disable"), "postgres://u:****@db/x?sslmode=disable");
        assert_eq!(mask_password("postgres://db/x?password=s3cret&user=u"), "postgres://db/x?password=****&user=u");
        assert_eq!(mask_password("host=db user=u password=s3cret"), "host=db user=u password=****");
        assert_eq!(mask_password("host=db password='a b' user=u"), "host=db password=**** user=u");
    }
}
