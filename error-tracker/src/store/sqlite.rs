//! [`SqliteStore`]: the default store, one SQLite file in WAL mode.
//!
//! The schema is in `migrations/`, applied in order under `PRAGMA user_version`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, Row, TransactionBehavior, params};

use super::backtraces::{BatchBacktraces, missing_backtrace};
use super::batch::FoldedBatch;
use super::memory::{request_data, summary_of};
use super::outbox_created_on;
use super::{
    Cause, ChangeKind, DELIVERED, Group, GroupChange, GroupQuery, GroupSort, GroupSummary, Grouped, OccurrenceAt, Page,
    PageRequest, PendingNotification, Pruned, Retention, Status, StoreError, StoreQuery, StoreWrite, hours_since,
    lease_clock, render_traceback,
};
use crate::occurrence::Occurrence;
use crate::timestamp::Timestamp;

/// The migrations, in order. Version N of the schema has the first N applied.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_list_indexes.sql"),
    include_str!("migrations/0003_group_search.sql"),
    include_str!("migrations/0004_pruned.sql"),
    include_str!("migrations/0005_notification_outbox.sql"),
    include_str!("migrations/0006_breadcrumbs_and_spans.sql"),
    include_str!("migrations/0007_list_orders_and_filters.sql"),
];

/// The columns of one stored occurrence (`o`, with its backtrace `b`), in
/// the order [`occurrence_columns`] reads them: every query of occurrences
/// selects these first, so that adding a column changes one place.
macro_rules! occurrence_select {
    () => {
        "SELECT o.event_id, o.exception_name, o.message, o.sources, b.backtrace, o.thread, o.timestamp,
                o.host, o.pid, o.release, o.panic, o.frames, o.request_data, o.extra,
                o.breadcrumbs, o.spans, o.error_backtrace"
    };
}
/// How many columns `occurrence_select!` names: a query's own columns follow.
const OCCURRENCE_COLUMNS: usize = 17;

/// How long a connection waits for another writer's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The page cache of a read connection, in KiB (negative: SQLite's unit for KiB).
const READER_CACHE_KIB: i64 = -32 * 1024;
/// The page cache of the write connection, in KiB (at most 64 MiB, used as
/// pages are touched). Each batch inserts into and trims the pages of every
/// group it touches; with SQLite's default 2 MB most of them would be read
/// back from the OS on every batch (ingest: 91,000 occurrences/s with the
/// default, 106,000 with this; see BENCHMARKS.md).
const WRITER_CACHE_KIB: i64 = -64 * 1024;
/// How long closing waits for other connections to let the WAL be checkpointed.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// How many idle read connections are kept.
const MAX_IDLE_READERS: usize = 8;

/// The default [`Store`]: a SQLite file, written in batched transactions in
/// WAL mode, that several processes may share.
///
/// ```
/// use error_tracker::{GroupQuery, SqliteStore, StoreQuery};
/// let dir = tempfile::tempdir().unwrap();
/// let store = SqliteStore::open(dir.path().join("errors.sqlite"), 100).unwrap();
/// assert_eq!(store.list_groups(&GroupQuery::default()).unwrap().total, 0);
/// ```
pub struct SqliteStore {
    path: PathBuf,
    cap: u32,
    /// Whether the write connection's pragmas and the migrations are done:
    /// `open` leaves them to the first write when another process holds the
    /// file's write lock, rather than wait for it (see [`SqliteStore::open`]).
    ready: AtomicBool,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.path).field("cap", &self.cap).finish()
    }
}

fn db_err(e: rusqlite::Error) -> StoreError {
    let code = e.sqlite_error_code();
    let cause = Cause::new(e.to_string(), e);
    match code {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy(cause),
        // SQLITE_FULL: the disk, or `max_page_count`.
        Some(ErrorCode::DiskFull) => StoreError::Full(cause),
        Some(ErrorCode::CannotOpen | ErrorCode::SystemIoFailure | ErrorCode::OutOfMemory) => {
            StoreError::Unavailable(cause)
        }
        _ => StoreError::Database(cause),
    }
}

fn json_err(e: crate::json::Error) -> StoreError {
    StoreError::Corrupt(Cause::of(e))
}

impl SqliteStore {
    /// Opens (creating it if needed) the file at `path`, applies the
    /// migrations, and keeps at most `occurrences_per_group` occurrences per group.
    ///
    /// It never waits for another process's lock: on a migrated file it only
    /// reads the schema version; on a file that needs migrating while
    /// another process holds its write lock, it returns at once and the
    /// first write migrates it (failing with [`StoreError::Busy`], which the
    /// writer retries, until the lock is gone).
    pub fn open(path: impl AsRef<Path>, occurrences_per_group: u32) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let open_err =
            |e: rusqlite::Error| StoreError::Open { location: path.display().to_string(), reason: e.to_string() };
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_CREATE;
        let writer = Connection::open_with_flags(&path, flags).map_err(open_err)?;
        // No waiting for a lock at open: the app's `init` must not block.
        writer.busy_timeout(Duration::ZERO).map_err(open_err)?;
        let ready = match prepare_writer(&writer) {
            Ok(()) => true,
            Err(e) if matches!(e.sqlite_error_code(), Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)) => {
                false
            }
            Err(e) => return Err(open_err(e)),
        };
        writer.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        Ok(Self {
            path,
            cap: occurrences_per_group.max(1),
            ready: AtomicBool::new(ready),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// Caps the file at `pages` pages (SQLite's `max_page_count`, on this
    /// store's write connection): a write that needs more fails with
    /// [`StoreError::Full`], as on a full disk, and the writer then writes
    /// the batch in smaller parts. Returns the cap in effect, which is never
    /// below the pages the file already has (0 changes nothing).
    ///
    /// ```
    /// use error_tracker::SqliteStore;
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = SqliteStore::open(dir.path().join("errors.sqlite"), 100).unwrap();
    /// assert!(store.set_max_page_count(10_000).unwrap() >= 10_000);
    /// ```
    pub fn set_max_page_count(&self, pages: u64) -> Result<u64, StoreError> {
        let conn = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let pages = i64::try_from(pages).unwrap_or(i64::MAX);
        let set: i64 = conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| r.get(0)).map_err(db_err)?;
        Ok(set as u64)
    }

    /// The file this store writes to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on a pooled read connection.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let conn = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match conn {
            Some(c) => c,
            None => {
                let conn = open_connection(&self.path, false).map_err(db_err)?;
                // Readers scan the list index (about 20 MB for 100,000 groups): keep it
                // in the connection's cache rather than re-reading them from the OS.
                conn.pragma_update(None, "cache_size", READER_CACHE_KIB).map_err(db_err)?;
                conn
            }
        };
        let out = f(&conn);
        let mut idle = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        out
    }

    fn update(&self, sql: &str, p: impl rusqlite::Params) -> Result<bool, StoreError> {
        let conn = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        Ok(conn.execute(sql, p).map_err(db_err)? > 0)
    }
}

/// Every connection's pragmas, in one place.
fn open_connection(path: &Path, create: bool) -> rusqlite::Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    set_pragmas(&conn)?;
    Ok(conn)
}

fn set_pragmas(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Checkpoint every 64 MiB of WAL rather than 4 MiB: batches of thousands
    // of occurrences would otherwise pay several checkpoints (and fsyncs) each.
    conn.pragma_update(None, "wal_autocheckpoint", 16_384)?;
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// The write connection's pragmas and the migrations.
fn prepare_writer(conn: &Connection) -> rusqlite::Result<()> {
    set_pragmas(conn)?;
    conn.pragma_update(None, "cache_size", WRITER_CACHE_KIB)?;
    migrate(conn)
}

fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    // Up to date: nothing to write, so no write lock to wait for (another
    // process may hold it for long).
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version >= MIGRATIONS.len() as i64 {
        return Ok(());
    }
    // Read the version again inside the write transaction: two processes
    // opening a new file at once must not both apply the same migration.
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = (|| {
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
            conn.execute_batch(sql)?;
            conn.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        Ok(())
    })();
    conn.execute_batch(if result.is_ok() { "COMMIT" } else { "ROLLBACK" })?;
    result
}

/// The start of a group's upsert: insert a new group, count, and reopen a
/// resolved one. What follows says which of the group's columns change.
macro_rules! upsert_group_head {
    () => {
        "
    INSERT INTO exceptions (hash, host, path, method, request_data, exception_name, message, traceback,
                            count, created_on, last_seen)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
    ON CONFLICT (hash) DO UPDATE SET
        count = count + excluded.count,
        status = CASE status WHEN 'resolved' THEN 'unresolved' ELSE status END,"
    };
}

const UPSERT_GROUP: &str = concat!(
    upsert_group_head!(),
    "
        host = iif(excluded.last_seen >= last_seen, excluded.host, host),
        path = iif(excluded.last_seen >= last_seen, excluded.path, path),
        method = iif(excluded.last_seen >= last_seen, excluded.method, method),
        request_data = iif(excluded.last_seen >= last_seen, excluded.request_data, request_data),
        message = iif(excluded.last_seen >= last_seen, excluded.message, message),
        traceback = iif(excluded.last_seen >= last_seen, excluded.traceback, traceback),
        last_seen = max(last_seen, excluded.last_seen)
    RETURNING count"
);

/// [`UPSERT_GROUP`] for a group the batch only counts: the group keeps its
/// detail (see [`Grouped::count_only`]).
const UPSERT_GROUP_COUNT: &str = concat!(
    upsert_group_head!(),
    "
        last_seen = max(last_seen, excluded.last_seen)
    RETURNING count"
);

const INSERT_OCCURRENCE: &str = "
    INSERT INTO occurrences (event_id, hash, timestamp, times, exception_name, message, sources, host, pid,
                             thread, release, panic, request_data, frames, backtrace_key, extra,
                             breadcrumbs, spans, error_backtrace)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)";

const HAS_BACKTRACE: &str = "SELECT 1 FROM backtraces WHERE hash = ?1 AND backtrace_key = ?2";

const INSERT_BACKTRACE: &str = "INSERT OR IGNORE INTO backtraces (hash, backtrace_key, backtrace) VALUES (?1, ?2, ?3)";

/// Trims a group to its newest occurrences, and tells the backtraces they held.
const TRIM_OCCURRENCES: &str = "
    DELETE FROM occurrences WHERE hash = ?1 AND id <=
        (SELECT id FROM occurrences WHERE hash = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)
    RETURNING backtrace_key";

/// Deletes a backtrace of a group that no occurrence holds any more (the
/// index `occurrences_by_group` answers without reading rows).
const DELETE_ORPHAN_BACKTRACE: &str = "
    DELETE FROM backtraces WHERE hash = ?1 AND backtrace_key = ?2
        AND NOT EXISTS (SELECT 1 FROM occurrences WHERE hash = ?1 AND backtrace_key = ?2)";

const ADD_HOUR: &str = "
    INSERT INTO group_hours (hash, hour, count) VALUES (?1, ?2, ?3)
    ON CONFLICT (hash, hour) DO UPDATE SET count = count + excluded.count";

impl StoreWrite for SqliteStore {
    fn write(&self, batch: &[Grouped]) -> Result<Vec<GroupChange>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        // Fold the batch per group first: one upsert per group, not per occurrence.
        let folded = FoldedBatch::new(batch);

        let mut conn = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if !self.ready.load(Ordering::Acquire) {
            prepare_writer(&conn).map_err(db_err)?;
            self.ready.store(true, Ordering::Release);
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db_err)?;
        let mut changes = Vec::with_capacity(folded.order.len());
        {
            let mut status_of = tx.prepare_cached("SELECT status FROM exceptions WHERE hash = ?1").map_err(db_err)?;
            let mut upsert = tx.prepare_cached(UPSERT_GROUP).map_err(db_err)?;
            let mut upsert_count = tx.prepare_cached(UPSERT_GROUP_COUNT).map_err(db_err)?;
            for hash in &folded.order {
                let w = &folded.groups[hash];
                let before: Option<String> = status_of.query_row([hash], |r| r.get(0)).optional().map_err(db_err)?;
                let kind = match before.as_deref() {
                    None => ChangeKind::New,
                    Some("resolved") => ChangeKind::Regressed,
                    Some(_) => ChangeKind::Recurring,
                };
                let s = summary_of(hash, w.latest, w.times);
                let upsert = if w.detailed { &mut upsert } else { &mut upsert_count };
                let count: i64 = upsert
                    .query_row(
                        params![
                            hash,
                            s.host,
                            s.path,
                            s.method,
                            request_data(w.latest),
                            s.exception_name,
                            s.message,
                            render_traceback(w.latest),
                            w.times as i64,
                            w.first.to_string(),
                            w.last_seen.to_string(),
                        ],
                        |r| r.get(0),
                    )
                    .map_err(db_err)?;
                changes.push(GroupChange { hash: (*hash).to_owned(), kind, count: count as u64, added: w.times });
            }

            // Each distinct backtrace of a group once: serialized and inserted
            // only when the group does not have it yet.
            let stored: Vec<&Grouped> = folded.to_store(self.cap).collect();
            let backtraces = BatchBacktraces::new(stored.iter().copied());
            let mut has_backtrace = tx.prepare_cached(HAS_BACKTRACE).map_err(db_err)?;
            let mut insert_backtrace = tx.prepare_cached(INSERT_BACKTRACE).map_err(db_err)?;
            for &(hash, key, frames) in &backtraces.distinct {
                if !has_backtrace.exists(params![hash, key]).map_err(db_err)? {
                    let json = crate::json::to_string(frames).map_err(json_err)?;
                    insert_backtrace.execute(params![hash, key, json]).map_err(db_err)?;
                }
            }

            let mut insert = tx.prepare_cached(INSERT_OCCURRENCE).map_err(db_err)?;
            for (g, key) in stored.iter().zip(&backtraces.keys) {
                let o = &g.occurrence;
                insert
                    .execute(params![
                        o.id,
                        g.hash,
                        o.timestamp.to_string(),
                        g.times as i64,
                        o.exception_name,
                        o.message,
                        crate::json::to_string(&o.sources).map_err(json_err)?,
                        o.host,
                        o.pid,
                        o.thread,
                        o.release,
                        o.panic.as_ref().map(crate::json::to_string).transpose().map_err(json_err)?,
                        request_data(o),
                        crate::json::to_string(&o.frames).map_err(json_err)?,
                        key,
                        crate::json::to_string(&o.extra).map_err(json_err)?,
                        optional_json(&o.breadcrumbs)?,
                        optional_json(&o.spans)?,
                        optional_json(&o.error_backtrace)?,
                    ])
                    .map_err(db_err)?;
            }
            // The trim tells which backtraces its rows held; those the batch did
            // not just store may have lost their last occurrence.
            let mut trim = tx.prepare_cached(TRIM_OCCURRENCES).map_err(db_err)?;
            let mut maybe_orphans: HashSet<(&str, i64)> = HashSet::new();
            for &hash in &folded.order {
                let mut trimmed = trim.query(params![hash, self.cap]).map_err(db_err)?;
                while let Some(r) = trimmed.next().map_err(db_err)? {
                    let key: i64 = r.get(0).map_err(db_err)?;
                    if !backtraces.is_fresh(hash, key) {
                        maybe_orphans.insert((hash, key));
                    }
                }
            }
            if !maybe_orphans.is_empty() {
                let mut delete_orphan = tx.prepare_cached(DELETE_ORPHAN_BACKTRACE).map_err(db_err)?;
                for (hash, key) in maybe_orphans {
                    delete_orphan.execute(params![hash, key]).map_err(db_err)?;
                }
            }
            let mut add_hour = tx.prepare_cached(ADD_HOUR).map_err(db_err)?;
            for ((hash, hour), n) in &folded.hours {
                add_hour.execute(params![hash, hour, *n as i64]).map_err(db_err)?;
            }
        }
        tx.commit().map_err(db_err)?;
        Ok(changes)
    }

    /// Folds the WAL into the file (`PRAGMA wal_checkpoint(TRUNCATE)`), so
    /// that the file alone, copied elsewhere, holds everything. It waits for
    /// other connections' transactions at most [`CLOSE_TIMEOUT`], and as long
    /// for this store's writer connection, should a write or prune still run;
    /// when another connection still uses the file, the WAL is left to it.
    fn close(&self) -> Result<(), StoreError> {
        // The writer's connection may be in use a moment longer (a prune
        // after the last write): wait for it, as long as for a checkpoint.
        let deadline = std::time::Instant::now() + CLOSE_TIMEOUT;
        let conn = loop {
            match self.writer.try_lock() {
                Ok(conn) => break conn,
                Err(std::sync::TryLockError::Poisoned(p)) => break p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(std::sync::TryLockError::WouldBlock) => {
                    return Err(StoreError::Busy("the writer's connection stayed in use; the WAL is kept".into()));
                }
            }
        };
        conn.busy_timeout(CLOSE_TIMEOUT).map_err(db_err)?;
        let checkpoint = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0));
        conn.busy_timeout(BUSY_TIMEOUT).map_err(db_err)?;
        // Busy (1): another connection still uses the file (another process
        // of a fleet sharing it, or a reader). Nothing is lost: the WAL stays
        // beside the file, and SQLite folds it in when the last connection
        // closes. Not an error to report at every exit of a fleet's process.
        checkpoint.map_err(db_err)?;
        Ok(())
    }

    /// Deletes by age, then past the group cap, then, while the pages in use
    /// exceed the size cap, as many groups as the excess takes at the average
    /// group's size and a tenth more (merging the
    /// search index's segments between two rounds; at most 20 rounds), least
    /// recently seen first; all in one transaction, with the counts added to
    /// the table `pruned`.
    fn prune(&self, r: &Retention) -> Result<Pruned, StoreError> {
        const OLDEST: &str = "DELETE FROM exceptions WHERE rowid IN
            (SELECT rowid FROM exceptions ORDER BY last_seen, hash LIMIT ?1) RETURNING count";
        let mut conn = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if !self.ready.load(Ordering::Acquire) {
            prepare_writer(&conn).map_err(db_err)?;
            self.ready.store(true, Ordering::Release);
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db_err)?;
        let delete = |sql: &str, p: &[&dyn rusqlite::ToSql]| -> Result<Pruned, StoreError> {
            let mut stmt = tx.prepare_cached(sql).map_err(db_err)?;
            let mut rows = stmt.query(p).map_err(db_err)?;
            let mut out = Pruned::default();
            while let Some(row) = rows.next().map_err(db_err)? {
                out.add(row.get::<_, i64>(0).map_err(db_err)?.max(0) as u64);
            }
            Ok(out)
        };
        let groups = || -> Result<u64, StoreError> {
            tx.query_row("SELECT count(*) FROM exceptions", [], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
                .map_err(db_err)
        };
        let mut by_reason: Vec<(&str, Pruned)> = Vec::new();
        if let Some(age) = r.max_age {
            let cutoff = Timestamp::now().saturating_sub(age).to_string();
            by_reason.push(("age", delete("DELETE FROM exceptions WHERE last_seen < ?1 RETURNING count", &[&cutoff])?));
        }
        if let Some(max) = r.max_groups {
            let excess = groups()?.saturating_sub(max);
            if excess > 0 {
                by_reason.push(("groups", delete(OLDEST, &[&(excess as i64)])?));
            }
        }
        if let Some(max) = r.max_bytes {
            let used = || -> Result<u64, StoreError> {
                let sql = "SELECT (page_count - freelist_count) * page_size \
                           FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()";
                tx.query_row(sql, [], |r| r.get::<_, i64>(0)).map(|n| n.max(0) as u64).map_err(db_err)
            };
            let mut size = Pruned::default();
            let mut optimized = false;
            for _ in 0..20 {
                let (n, in_use) = (groups()?, used()?);
                if in_use <= max || n == 0 {
                    break;
                }
                // The search index keeps deleted entries until its segments
                // are merged: merge them before deciding to delete more.
                if !optimized && size.groups > 0 {
                    tx.execute("INSERT INTO exceptions_search (exceptions_search) VALUES ('optimize')", [])
                        .map_err(db_err)?;
                    optimized = true;
                    continue;
                }
                optimized = false;
                // As many groups as the excess takes at the average group's
                // size, and a tenth more (at least one).
                let keep = (n as f64 * max as f64 / in_use as f64 * 0.9) as u64;
                let step = delete(OLDEST, &[&(n.saturating_sub(keep).max(1) as i64)])?;
                size.groups += step.groups;
                size.occurrences += step.occurrences;
            }
            by_reason.push(("size", size));
        }
        let now = Timestamp::now().to_string();
        let mut total = Pruned::default();
        for (reason, p) in by_reason.into_iter().filter(|(_, p)| p.groups > 0) {
            tx.execute(
                "INSERT INTO pruned (reason, groups, occurrences, last_pruned) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (reason) DO UPDATE SET groups = groups + excluded.groups,
                     occurrences = occurrences + excluded.occurrences, last_pruned = excluded.last_pruned",
                params![reason, p.groups as i64, p.occurrences as i64, now],
            )
            .map_err(db_err)?;
            total.groups += p.groups;
            total.occurrences += p.occurrences;
        }
        tx.commit().map_err(db_err)?;
        Ok(total)
    }
}

impl StoreQuery for SqliteStore {
    fn list_groups(&self, q: &GroupQuery) -> Result<Page<GroupSummary>, StoreError> {
        let search = q.search.as_deref().filter(|s| !s.is_empty()).map(SearchText::new);
        let (limit, offset) = (q.page.limit() as i64, q.page.offset() as i64);
        let other_order = q.sort != GroupSort::LastSeen || q.host.is_some() || q.release.is_some();
        self.read(|conn| {
            // One snapshot for the counts, the pick and the rows.
            let snapshot = conn.unchecked_transaction().map_err(db_err)?;
            let like = search.as_ref().map(|s| s.like.as_str());
            let (picked, total) = if other_order {
                ordered_page(conn, q, like, limit, offset)?
            } else {
                let list = ListQuery { conn, status: q.status.map(Status::as_str), like };
                match &search {
                    None => {
                        let total = Total::exact(list.count()?);
                        (list.walk(total, limit, offset)?, total)
                    }
                    Some(SearchText { phrase: Some(phrase), .. }) => list.indexed_search(phrase, limit, offset)?,
                    Some(SearchText { phrase: None, .. }) => list.short_search(limit, offset)?,
                }
            };
            let items = summaries(conn, picked)?;
            snapshot.commit().map_err(db_err)?;
            Ok(Page {
                items,
                total: total.n as u64,
                total_is_exact: total.exact,
                page: q.page.page.max(1),
                per_page: q.page.per_page.max(1),
            })
        })
    }

    fn group(&self, hash: &str) -> Result<Option<Group>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(&format!(
                "SELECT {SUMMARY_COLUMNS}, traceback, request_data FROM exceptions WHERE hash = ?1"
            ))
            .and_then(|mut s| {
                s.query_row([hash], |r| {
                    Ok(Group { summary: summary_from_row(r)?, traceback: r.get(12)?, request_data: r.get(13)? })
                })
                .optional()
            })
            .map_err(db_err)
        })
    }

    fn occurrences(&self, hash: &str, page: PageRequest) -> Result<Page<Occurrence>, StoreError> {
        self.read(|conn| {
            let total: i64 = conn
                .prepare_cached("SELECT count(*) FROM occurrences WHERE hash = ?1")
                .and_then(|mut s| s.query_row([hash], |r| r.get(0)))
                .map_err(db_err)?;
            let mut stmt = conn
                .prepare_cached(concat!(
                    occurrence_select!(),
                    " FROM occurrences AS o LEFT JOIN backtraces AS b USING (hash, backtrace_key)
                     WHERE o.hash = ?1 ORDER BY o.id DESC LIMIT ?2 OFFSET ?3"
                ))
                .map_err(db_err)?;
            let rows = stmt
                .query_map(params![hash, page.limit() as i64, page.offset() as i64], occurrence_columns)
                .map_err(db_err)?;
            let mut items = Vec::new();
            for row in rows {
                items.push(occurrence_from_columns(row.map_err(db_err)?)?);
            }
            Ok(Page::exact(items, total as u64, page))
        })
    }

    fn occurrence(&self, hash: &str, event_id: &str) -> Result<Option<OccurrenceAt>, StoreError> {
        self.read(|conn| {
            // One snapshot for the row, its neighbours and the counts.
            let snapshot = conn.unchecked_transaction().map_err(db_err)?;
            // The group's index bounds the scan to its stored occurrences
            // (at most `occurrences_per_group`): event_id needs no index.
            let found = conn
                .prepare_cached(concat!(
                    occurrence_select!(),
                    ", o.id FROM occurrences AS o LEFT JOIN backtraces AS b USING (hash, backtrace_key)
                     WHERE o.hash = ?1 AND o.event_id = ?2 ORDER BY o.id DESC LIMIT 1"
                ))
                .and_then(|mut s| {
                    s.query_row(params![hash, event_id], |r| Ok((occurrence_columns(r)?, r.get(OCCURRENCE_COLUMNS)?)))
                        .optional()
                })
                .map_err(db_err)?;
            let Some((columns, id)) = found else { return Ok(None) };
            let id: i64 = id;
            let neighbour = |sql: &str| -> Result<Option<String>, StoreError> {
                conn.prepare_cached(sql)
                    .and_then(|mut s| s.query_row(params![hash, id], |r| r.get(0)).optional())
                    .map_err(db_err)
            };
            let newer =
                neighbour("SELECT event_id FROM occurrences WHERE hash = ?1 AND id > ?2 ORDER BY id ASC LIMIT 1")?;
            let older =
                neighbour("SELECT event_id FROM occurrences WHERE hash = ?1 AND id < ?2 ORDER BY id DESC LIMIT 1")?;
            let count = |sql: &str, p: &[&dyn rusqlite::ToSql]| -> Result<u64, StoreError> {
                conn.prepare_cached(sql)
                    .and_then(|mut s| s.query_row(p, |r| r.get::<_, i64>(0)))
                    .map_err(db_err)
                    .map(|n| n as u64)
            };
            let position = count("SELECT count(*) FROM occurrences WHERE hash = ?1 AND id >= ?2", params![hash, id])?;
            let total = count("SELECT count(*) FROM occurrences WHERE hash = ?1", params![hash])?;
            snapshot.commit().map_err(db_err)?;
            Ok(Some(OccurrenceAt::new(occurrence_from_columns(columns)?, position, total, newer, older)))
        })
    }

    fn hourly_counts(&self, hash: &str, since: Timestamp) -> Result<Vec<u64>, StoreError> {
        let hours = hours_since(since);
        let (first, last) = (*hours.start(), *hours.end());
        let found: HashMap<i64, u64> = self.read(|conn| {
            let mut stmt = conn
                .prepare_cached("SELECT hour, count FROM group_hours WHERE hash = ?1 AND hour BETWEEN ?2 AND ?3")
                .map_err(db_err)?;
            let rows = stmt
                .query_map(params![hash, first, last], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)? as u64)))
                .map_err(db_err)?;
            rows.collect::<Result<_, _>>().map_err(db_err)
        })?;
        Ok(hours.map(|h| found.get(&h).copied().unwrap_or(0)).collect())
    }

    fn delete_group(&self, hash: &str) -> Result<bool, StoreError> {
        self.update("DELETE FROM exceptions WHERE hash = ?1", [hash])
    }

    fn set_status(&self, hash: &str, status: Status) -> Result<bool, StoreError> {
        self.update("UPDATE exceptions SET status = ?2 WHERE hash = ?1", params![hash, status.as_str()])
    }

    fn set_notification_sent(&self, hash: &str, sent: bool) -> Result<bool, StoreError> {
        self.update("UPDATE exceptions SET notification_sent = ?2 WHERE hash = ?1", params![hash, sent])
    }

    fn set_ticket(&self, hash: &str, ticket: Option<&str>) -> Result<bool, StoreError> {
        self.update("UPDATE exceptions SET ticket_raised = ?2 WHERE hash = ?1", params![hash, ticket])
    }

    // The notification outbox (migration 0005).

    fn put_pending_notifications(&self, items: &[PendingNotification], lease: Duration) -> Result<(), StoreError> {
        const PUT: &str = "
            INSERT INTO notification_outbox (channel, hash, kind, id, payload, created_on, lease_until)
            SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE EXISTS (SELECT 1 FROM exceptions WHERE hash = ?2)
            ON CONFLICT (channel, hash, kind) DO UPDATE SET
                id = excluded.id, payload = excluded.payload, lease_until = excluded.lease_until";
        const OWED: &str = "UPDATE exceptions SET notification_sent = 0 WHERE hash = ?1";
        let (_, until) = lease_clock(lease);
        let mut conn = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db_err)?;
        {
            let mut put = tx.prepare_cached(PUT).map_err(db_err)?;
            let mut owed = tx.prepare_cached(OWED).map_err(db_err)?;
            for i in items {
                let created = i.created_on.to_string();
                put.execute(params![i.channel, i.hash, i.kind, i.id, i.payload, created, until]).map_err(db_err)?;
                owed.execute([&i.hash]).map_err(db_err)?;
            }
        }
        tx.commit().map_err(db_err)
    }

    fn claim_pending_notifications(
        &self,
        channel: &str,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<PendingNotification>, StoreError> {
        const CLAIM: &str = "
            UPDATE notification_outbox SET lease_until = ?3
            WHERE rowid IN (SELECT rowid FROM notification_outbox WHERE channel = ?1 AND lease_until <= ?2
                            ORDER BY created_on LIMIT ?4)
            RETURNING id, channel, hash, kind, payload, created_on";
        let (now, until) = lease_clock(lease);
        let conn = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let mut stmt = conn.prepare_cached(CLAIM).map_err(db_err)?;
        let rows = stmt
            .query_map(params![channel, now, until, i64::from(limit)], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get::<_, String>(5)?))
            })
            .map_err(db_err)?;
        let mut out = Vec::new();
        for row in rows {
            let (id, channel, hash, kind, payload, created) = row.map_err(db_err)?;
            let created_on = outbox_created_on(&created)?;
            out.push(PendingNotification { id, channel, hash, kind, payload, created_on });
        }
        out.sort_by_key(|a| a.created_on);
        Ok(out)
    }

    fn release_pending_notification(&self, channel: &str, id: &str) -> Result<(), StoreError> {
        self.update(
            "UPDATE notification_outbox SET lease_until = 0 WHERE channel = ?1 AND id = ?2 AND lease_until < ?3",
            params![channel, id, DELIVERED],
        )
        .map(|_| ())
    }

    fn finish_pending_notification(&self, channel: &str, id: &str, delivered: bool) -> Result<bool, StoreError> {
        const MARK: &str = "UPDATE notification_outbox SET lease_until = ?3
                            WHERE channel = ?1 AND id = ?2 AND lease_until < ?3 RETURNING hash";
        const FORGET: &str = "DELETE FROM notification_outbox
                              WHERE channel = ?1 AND id = ?2 AND lease_until < ?3 RETURNING hash";
        const OWED: &str = "SELECT 1 FROM notification_outbox WHERE hash = ?1 AND lease_until < ?2";
        const SENT: &str = "UPDATE exceptions SET notification_sent = 1 WHERE hash = ?1 AND EXISTS
                            (SELECT 1 FROM notification_outbox WHERE hash = ?1 AND lease_until = ?2)";
        let mut conn = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db_err)?;
        let hash: Option<String> = tx
            .query_row(if delivered { MARK } else { FORGET }, params![channel, id, DELIVERED], |r| r.get(0))
            .optional()
            .map_err(db_err)?;
        if let Some(hash) = &hash {
            let owed = tx.query_row(OWED, params![hash, DELIVERED], |_| Ok(())).optional().map_err(db_err)?;
            if owed.is_none() {
                tx.execute(SENT, params![hash, DELIVERED]).map_err(db_err)?;
                tx.execute("DELETE FROM notification_outbox WHERE hash = ?1", [hash]).map_err(db_err)?;
            }
        }
        tx.commit().map_err(db_err)?;
        Ok(hash.is_some())
    }
}

/// A search text, as the list queries use it.
struct SearchText {
    /// `%text%` for `LIKE … ESCAPE '\'`, with `\`, `%` and `_` escaped.
    like: String,
    /// The text as one FTS5 phrase (quoted, inner quotes doubled) and
    /// lower-cased as the index is, or `None` when it is shorter than a trigram.
    phrase: Option<String>,
}

/// The trigram tokenizer matches no phrase shorter than this, in characters.
const TRIGRAM: usize = 3;

impl SearchText {
    fn new(text: &str) -> Self {
        let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        // LIKE folds ASCII letters only, and so does lower() in the index.
        let phrase = (text.chars().count() >= TRIGRAM)
            .then(|| format!("\"{}\"", text.to_ascii_lowercase().replace('"', "\"\"")));
        Self { like: format!("%{escaped}%"), phrase }
    }
}

/// How many entries of `exceptions_list` a walk reads in the time it takes to
/// look up and sort one match of the search index (measured on the UI bench:
/// a match costs a row lookup by rowid, a walk step three `LIKE`s on an index entry).
const SORT_COST_IN_WALK_STEPS: i64 = 4;

/// A search counts its matches up to this many (or to the end of the page
/// asked for), then shows "10,000+": counting all 100,000 matches of a text in
/// every group costs the index 13 ms, the first 10,000 less than 2 ms.
const COUNT_CAP: i64 = 10_000;

/// A number of groups, exact or, when the count stopped, exceeded.
#[derive(Debug, Clone, Copy)]
struct Total {
    n: i64,
    exact: bool,
}

impl Total {
    fn exact(n: i64) -> Self {
        Self { n, exact: true }
    }
}

/// The most matches a search sorts; more are always walked (see
/// [`ListQuery::indexed_search`]). It bounds the rowids read out of the index.
const MAX_SORTED: i64 = 2_000;

/// The list queries for one status filter and search, on one snapshot.
///
/// Each query is one that the indexes answer: a page is picked as rowids,
/// either by a walk of an index in list order (a deep OFFSET skips index
/// entries, not rows) or from the search index, and only its rows are read.
/// The list rows of `picked` (rowids), in that order.
fn summaries(conn: &Connection, picked: Vec<i64>) -> Result<Vec<GroupSummary>, StoreError> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {SUMMARY_COLUMNS} FROM exceptions WHERE rowid = ?1")).map_err(db_err)?;
    let mut items = Vec::with_capacity(picked.len());
    for rowid in picked {
        if let Some(g) = stmt.query_row([rowid], summary_from_row).optional().map_err(db_err)? {
            items.push(g);
        }
    }
    Ok(items)
}

/// A page in another order than last seen, or filtered by host or release
/// (migration 0007): the order's index (or the host's) walked with the
/// filters applied, and the count stopped past [`COUNT_CAP`] (or past the
/// page asked for) when filtered, as a search's is. A release of at most
/// [`MAX_SORTED`] groups picks them from `occurrences_by_release`; a more
/// common one is checked with one seek there per group walked, and its
/// count stops past [`MAX_SORTED`].
fn ordered_page(
    conn: &Connection,
    q: &GroupQuery,
    like: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<i64>, Total), StoreError> {
    use rusqlite::types::Value;
    let mut filter: Vec<&str> = Vec::new();
    let mut params: Vec<(&str, Value)> = Vec::new();
    // Where a filtered count stops: a common release's count costs a seek
    // per group, so it stops sooner ("2,000+ groups").
    let mut count_cap = COUNT_CAP;
    if let Some(status) = q.status {
        filter.push("status = :status");
        params.push((":status", Value::Text(status.as_str().to_owned())));
    }
    if let Some(like) = like {
        filter.push(
            "(exception_name LIKE :like ESCAPE '\\' OR message LIKE :like ESCAPE '\\' OR path LIKE :like ESCAPE '\\')",
        );
        params.push((":like", Value::Text(like.to_owned())));
    }
    if let Some(host) = &q.host {
        filter.push("host = :host");
        params.push((":host", Value::Text(host.clone())));
    }
    if let Some(release) = &q.release {
        // A release of few groups: those groups, looked up and sorted (at most
        // MAX_SORTED). A common one: a seek per group walked, which stops
        // with the page (and the capped count) long before the end.
        let distinct: i64 = conn
            .prepare_cached("SELECT count(*) FROM (SELECT DISTINCT hash FROM occurrences WHERE release = ?1 LIMIT ?2)")
            .and_then(|mut st| st.query_row(params![release, MAX_SORTED + 1], |r| r.get(0)))
            .map_err(db_err)?;
        if distinct > MAX_SORTED {
            count_cap = MAX_SORTED;
        }
        filter.push(if distinct <= MAX_SORTED {
            // CROSS JOIN: SQLite joins in this order, from the release's entries.
            "rowid IN (SELECT e.rowid FROM occurrences AS o CROSS JOIN exceptions AS e ON e.hash = o.hash \
             WHERE o.release = :release)"
        } else {
            "EXISTS (SELECT 1 FROM occurrences AS o WHERE o.release = :release AND o.hash = exceptions.hash)"
        });
        params.push((":release", Value::Text(release.clone())));
    }
    let filtered = !filter.is_empty();
    let filter = if filtered { format!("WHERE {}", filter.join(" AND ")) } else { String::new() };
    let order = match q.sort {
        GroupSort::LastSeen => "last_seen DESC, hash",
        GroupSort::FirstSeen => "created_on DESC, hash",
        GroupSort::Count => "count DESC, hash",
    };
    let run = |sql: &str, more: &[(&str, Value)]| -> Result<Vec<i64>, StoreError> {
        let mut stmt = conn.prepare_cached(sql).map_err(db_err)?;
        let all: Vec<(&str, &dyn rusqlite::ToSql)> =
            params.iter().chain(more).map(|(n, v)| (*n, v as &dyn rusqlite::ToSql)).collect();
        let mut rows = stmt.query(all.as_slice()).map_err(db_err)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(db_err)? {
            out.push(r.get(0).map_err(db_err)?);
        }
        Ok(out)
    };
    let picked = run(
        &format!("SELECT rowid FROM exceptions {filter} ORDER BY {order} LIMIT :limit OFFSET :offset"),
        &[(":limit", Value::Integer(limit)), (":offset", Value::Integer(offset))],
    )?;
    let n = picked.len() as i64;
    let total = if n < limit && (n > 0 || offset == 0) {
        // A short page: the walk saw every match.
        Total::exact(offset + n)
    } else if !filtered {
        Total::exact(run("SELECT count(*) FROM exceptions", &[])?.first().copied().unwrap_or(0))
    } else {
        let upto = count_cap.max(offset + limit + 1);
        let sql = format!("SELECT count(*) FROM (SELECT 1 FROM exceptions {filter} LIMIT :upto)");
        let n = run(&sql, &[(":upto", Value::Integer(upto + 1))])?.first().copied().unwrap_or(0);
        if n > upto { Total { n: upto, exact: false } } else { Total::exact(n) }
    };
    Ok((picked, total))
}

struct ListQuery<'a> {
    conn: &'a Connection,
    status: Option<&'a str>,
    /// The `LIKE` pattern of the search, if any.
    like: Option<&'a str>,
}

impl ListQuery<'_> {
    /// The filter: ?1 the status, ?2 the `LIKE` pattern.
    fn filter(&self) -> String {
        let mut filter = Vec::new();
        if self.status.is_some() {
            filter.push("status = ?1");
        }
        if self.like.is_some() {
            filter.push(
                "(exception_name LIKE ?2 ESCAPE '\\' OR message LIKE ?2 ESCAPE '\\' OR path LIKE ?2 ESCAPE '\\')",
            );
        }
        // No WHERE at all when unfiltered, so that SQLite counts from the smallest index.
        if filter.is_empty() { String::new() } else { format!("WHERE {}", filter.join(" AND ")) }
    }

    /// Runs `sql` with ?1 the status, ?2 the `LIKE` pattern, then `more`,
    /// and collects the first column. SQLite wants every numbered parameter
    /// up to the last one used bound, and no more.
    fn rowids(&self, sql: &str, more: &[rusqlite::types::Value]) -> Result<Vec<i64>, StoreError> {
        use rusqlite::types::Value;
        let mut stmt = self.conn.prepare_cached(sql).map_err(db_err)?;
        let text = |s: Option<&str>| s.map_or(Value::Null, |s| Value::Text(s.to_owned()));
        let params = [text(self.status), text(self.like)].into_iter().chain(more.iter().cloned());
        let params = params.take(stmt.parameter_count());
        let mut rows = stmt.query(rusqlite::params_from_iter(params)).map_err(db_err)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(db_err)? {
            out.push(r.get(0).map_err(db_err)?);
        }
        Ok(out)
    }

    /// How many groups pass the filter.
    fn count(&self) -> Result<i64, StoreError> {
        // SQLite would count a search from the rows (120 MB for 100,000
        // groups); the covering index holds every column the filter reads.
        let index = if self.like.is_some() { "INDEXED BY exceptions_list" } else { "" };
        let sql = format!("SELECT count(*) FROM exceptions {index} {}", self.filter());
        Ok(self.rowids(&sql, &[])?.first().copied().unwrap_or(0))
    }

    /// Counts the rows of `sql` (with ?3 = `phrase`), stopping past `upto`.
    fn count_upto(&self, sql: &str, phrase: &str, upto: i64) -> Result<Total, StoreError> {
        use rusqlite::types::Value::{Integer, Text};
        let sql = format!("SELECT count(*) FROM ({sql} LIMIT ?4)");
        let n = self.rowids(&sql, &[Text(phrase.to_owned()), Integer(upto + 1)])?.first().copied().unwrap_or(0);
        Ok(if n > upto { Total { n: upto, exact: false } } else { Total::exact(n) })
    }

    /// The rowids of `limit` groups from `offset` on, walking the list's
    /// index in list order, or from the oldest end for a page past the middle
    /// of an exact `total`, so that no page walks past more than half of the matches.
    fn walk(&self, total: Total, limit: i64, offset: i64) -> Result<Vec<i64>, StoreError> {
        use rusqlite::types::Value::Integer;
        let filter = self.filter();
        let from_end = total.n - offset - limit;
        if total.exact && offset > total.n / 2 && from_end > -limit {
            let sql = format!("SELECT rowid FROM exceptions {filter} ORDER BY last_seen, hash DESC LIMIT ?3 OFFSET ?4");
            let mut picked = self.rowids(&sql, &[Integer(limit + from_end.min(0)), Integer(from_end.max(0))])?;
            picked.reverse();
            Ok(picked)
        } else {
            let sql = format!("SELECT rowid FROM exceptions {filter} ORDER BY last_seen DESC, hash LIMIT ?3 OFFSET ?4");
            self.rowids(&sql, &[Integer(limit), Integer(offset)])
        }
    }

    /// A search shorter than a trigram: the walk checks each entry with
    /// `LIKE`, and the count scans the covering index.
    fn short_search(&self, limit: i64, offset: i64) -> Result<(Vec<i64>, Total), StoreError> {
        use rusqlite::types::Value::Integer;
        let sql =
            format!("SELECT rowid FROM exceptions {} ORDER BY last_seen DESC, hash LIMIT ?3 OFFSET ?4", self.filter());
        let picked = self.rowids(&sql, &[Integer(limit), Integer(offset)])?;
        // When the page comes out short, the walk has seen every match, and
        // the count needs no second scan.
        let n = picked.len() as i64;
        let total = if n < limit && (n > 0 || offset == 0) { offset + n } else { self.count()? };
        Ok((picked, Total::exact(total)))
    }

    /// A search of a trigram or more, with the search index `exceptions_search`.
    ///
    /// The index finds the matches; the page then comes from whichever of
    /// two ways reads less, by one rule. Either sort the matches in list order
    /// (a row lookup each), or walk `exceptions_list` in list order to the
    /// page's end, checking each entry with `LIKE`. With the matches spread
    /// over the list, the walk reads about `groups / matches` entries per
    /// match it passes, and it passes `offset + limit` of them (or fewer, from
    /// the oldest end). So the walk wins for the first pages of a search and
    /// for searches that match much, the sort for deep pages of a rare match.
    /// Both ways apply the same `LIKE` (the index lower-cases as `LIKE`
    /// folds), so they find the same groups.
    fn indexed_search(&self, phrase: &str, limit: i64, offset: i64) -> Result<(Vec<i64>, Total), StoreError> {
        use rusqlite::types::Value::{Integer, Text};
        const MATCHES: &str = "SELECT rowid FROM exceptions_search WHERE exceptions_search MATCH ?3";
        // Read up to MAX_SORTED + 1 rowids: all of them for a rare match, and
        // a stop after a few pages' worth of index for a common one.
        let found = self.rowids(&format!("{MATCHES} LIMIT ?4"), &[Text(phrase.to_owned()), Integer(MAX_SORTED + 1)])?;
        // Stop counting past the cap, but never before the page's end: a page
        // with an inexact total always has one after it.
        let upto = COUNT_CAP.max(offset + limit + 1);
        let matches = match found.len() as i64 {
            0 => return Ok((Vec::new(), Total::exact(0))),
            n if n <= MAX_SORTED => Total::exact(n),
            _ => self.count_upto(MATCHES, phrase, upto)?,
        };
        let groups = ListQuery { like: None, status: None, ..*self }.count()?;
        let passed = (offset + limit).min(matches.n - offset).max(limit);
        let walked = passed.saturating_mul(groups) / matches.n;
        if matches.n <= MAX_SORTED && matches.n * SORT_COST_IN_WALK_STEPS <= walked {
            // NOT INDEXED: look the matches up by rowid, never walk an index
            // for the order. The LIKE keeps the page exact should the index
            // ever drift from the table.
            let sql = format!(
                "SELECT rowid FROM exceptions NOT INDEXED {} AND rowid IN (SELECT value FROM json_each(?3)) \
                 ORDER BY last_seen DESC, hash",
                self.filter()
            );
            let list = found.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
            let sorted = self.rowids(&sql, &[Text(format!("[{list}]"))])?;
            let total = Total::exact(sorted.len() as i64);
            let page = sorted.into_iter().skip(offset as usize).take(limit as usize).collect();
            Ok((page, total))
        } else {
            // The index counts the matches of every status; with a status,
            // count on the list index, with the same cap.
            let total = match self.status {
                None => matches,
                Some(_) => {
                    let sql = format!("SELECT rowid FROM exceptions INDEXED BY exceptions_list {}", self.filter());
                    self.count_upto(&sql, phrase, upto)?
                }
            };
            Ok((self.walk(total, limit, offset)?, total))
        }
    }
}

const SUMMARY_COLUMNS: &str = "hash, exception_name, message, method, path, host, count, created_on, last_seen, \
                               status, notification_sent, ticket_raised";

fn timestamp_at(r: &Row<'_>, i: usize) -> rusqlite::Result<Timestamp> {
    let s: String = r.get(i)?;
    Timestamp::parse(&s).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, format!("bad timestamp {s:?}").into())
    })
}

fn summary_from_row(r: &Row<'_>) -> rusqlite::Result<GroupSummary> {
    let status: String = r.get(9)?;
    Ok(GroupSummary {
        hash: r.get(0)?,
        exception_name: r.get(1)?,
        message: r.get(2)?,
        method: r.get(3)?,
        path: r.get(4)?,
        host: r.get(5)?,
        count: r.get::<_, i64>(6)? as u64,
        created_on: timestamp_at(r, 7)?,
        last_seen: timestamp_at(r, 8)?,
        status: status.parse().unwrap_or_default(),
        notification_sent: r.get(10)?,
        ticket_raised: r.get(11)?,
    })
}

type OccurrenceColumns = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Timestamp,
    String,
    u32,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    String,
    // breadcrumbs, spans, error_backtrace
    (Option<String>, Option<String>, Option<String>),
);

fn occurrence_columns(r: &Row<'_>) -> rusqlite::Result<OccurrenceColumns> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        timestamp_at(r, 6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
        r.get(12)?,
        r.get(13)?,
        (r.get(14)?, r.get(15)?, r.get(16)?),
    ))
}

fn occurrence_from_columns(c: OccurrenceColumns) -> Result<Occurrence, StoreError> {
    let (
        id,
        exception_name,
        message,
        sources,
        backtrace,
        thread,
        timestamp,
        host,
        pid,
        release,
        panic,
        frames,
        request,
        extra,
        (breadcrumbs, spans, error_backtrace),
    ) = c;
    let backtrace = crate::json::from_str(&backtrace.ok_or_else(|| missing_backtrace(&id))?).map_err(json_err)?;
    Ok(Occurrence {
        id,
        exception_name,
        message,
        sources: crate::json::from_str(&sources).map_err(json_err)?,
        backtrace,
        thread,
        timestamp,
        host,
        pid,
        release,
        panic: panic.map(|p| crate::json::from_str(&p)).transpose().map_err(json_err)?,
        frames: crate::json::from_str(&frames).map_err(json_err)?,
        request: request.map(|p| crate::json::from_str(&p)).transpose().map_err(json_err)?,
        extra: crate::json::from_str(&extra).map_err(json_err)?,
        site: None,
        breadcrumbs: from_optional_json(breadcrumbs)?,
        spans: from_optional_json(spans)?,
        error_backtrace: from_optional_json(error_backtrace)?,
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
    use super::*;
    use crate::occurrence::RequestContext;

    fn grouped(hash: &str, message: &str, secs: i64) -> Grouped {
        let occurrence = Occurrence {
            id: format!("00000000-0000-4000-8000-{secs:012}"),
            exception_name: "app::Error".into(),
            message: message.into(),
            sources: vec![],
            backtrace: vec![],
            thread: None,
            timestamp: Timestamp::from_micros(1_700_000_000_000_000 + secs * 1_000_000),
            host: "web-1".into(),
            pid: 1,
            release: None,
            panic: None,
            frames: vec![],
            request: Some(RequestContext { method: "GET".into(), path: format!("/{hash}"), ..Default::default() }),
            extra: vec![],
            site: None,
            breadcrumbs: Vec::new(),
            spans: Vec::new(),
            error_backtrace: Vec::new(),
        };
        Grouped { hash: hash.into(), occurrence, times: 1, count_only: false }
    }

    fn search(store: &SqliteStore, text: &str) -> Vec<String> {
        let q = GroupQuery { search: Some(text.into()), ..Default::default() };
        store.list_groups(&q).unwrap().items.into_iter().map(|g| g.hash).collect()
    }

    /// FTS5's own check of the search index against its content (the view).
    fn check_search_index(path: &Path) {
        let conn = Connection::open(path).unwrap();
        conn.execute("INSERT INTO exceptions_search (exceptions_search, rank) VALUES ('integrity-check', 1)", [])
            .expect("the search index matches the table");
    }

    #[test]
    fn the_search_index_follows_inserts_updates_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("errors.sqlite");
        let store = SqliteStore::open(&path, 10).unwrap();
        store.write(&[grouped("a", "Disk full", 1), grouped("b", "timeout", 2)]).unwrap();
        store.write(&[grouped("a", "Disk full", 3)]).unwrap(); // same text: no re-index
        store.write(&[grouped("b", "Connection reset", 4)]).unwrap();
        store.write(&[grouped("b", "late but older", 0)]).unwrap(); // an older occurrence keeps the text
        assert!(store.set_status("a", Status::Resolved).unwrap());
        check_search_index(&path);
        assert_eq!(search(&store, "DISK"), ["a"]);
        assert_eq!(search(&store, "reset"), ["b"]);
        assert!(search(&store, "timeout").is_empty());
        assert!(search(&store, "older").is_empty());
        assert!(store.delete_group("a").unwrap());
        check_search_index(&path);
        assert!(search(&store, "disk").is_empty());
    }

    #[test]
    fn a_search_counts_to_the_cap_or_past_the_page() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("errors.sqlite"), 10).unwrap();
        let n = COUNT_CAP + 50;
        let batch: Vec<Grouped> = (0..n).map(|i| grouped(&format!("g{i:06}"), "needle in a haystack", i)).collect();
        store.write(&batch).unwrap();
        let page = |page| {
            let q = GroupQuery {
                search: Some("NEEDLE".into()),
                page: PageRequest { page, per_page: 10 },
                ..Default::default()
            };
            let p = store.list_groups(&q).unwrap();
            (p.total as i64, p.total_is_exact, p.items.first().map(|g| g.hash.clone()))
        };
        // Newest first: page k starts with group n - 1 - 10 (k - 1).
        let first = |k: i64| Some(format!("g{:06}", n - 1 - 10 * (k - 1)));
        assert_eq!(page(1), (COUNT_CAP, false, first(1)), "10,000+ groups");
        assert_eq!(page(1001), (10_011, false, first(1001)), "a deep page knows one more follows");
        assert_eq!(page(1005), (n, true, first(1005)), "the last page counts them all");
        let short = GroupQuery { search: Some("ne".into()), ..Default::default() };
        assert_eq!(store.list_groups(&short).unwrap().total as i64, n, "the scan counts exactly");
    }

    #[test]
    fn migration_3_indexes_the_groups_already_stored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("errors.sqlite");
        {
            // A file written by a version with the first two migrations.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.execute_batch(MIGRATIONS[1]).unwrap();
            conn.pragma_update(None, "user_version", 2).unwrap();
            conn.execute(
                "INSERT INTO exceptions (hash, host, path, exception_name, message, traceback, count, created_on, \
                 last_seen) VALUES ('old', 'h', '/Legacy/Path', 'app::OldError', 'Stored before', '', 1, \
                 '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
                [],
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path, 10).unwrap();
        check_search_index(&path);
        assert_eq!(search(&store, "legacy/p"), ["old"]);
        assert_eq!(search(&store, "BEFORE"), ["old"]);
    }
}
