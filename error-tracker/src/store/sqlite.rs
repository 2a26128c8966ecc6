//! [`SqliteStore`]: the default store, one SQLite file in WAL mode.
//!
//! The schema is in `migrations/`, applied in order under `PRAGMA user_version`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, Row, TransactionBehavior, params};

use super::backtraces::{BatchBacktraces, missing_backtrace};
use super::batch::FoldedBatch;
use super::memory::{request_data, summary_of};
use super::{
    ChangeKind, Group, GroupChange, GroupQuery, GroupSummary, Grouped, Page, PageRequest, Status, Store, StoreError,
    render_traceback,
};
use crate::occurrence::Occurrence;
use crate::timestamp::Timestamp;

/// The migrations, in order. Version N of the schema has the first N applied.
const MIGRATIONS: &[&str] =
    &[include_str!("migrations/0001_initial.sql"), include_str!("migrations/0002_list_indexes.sql")];

/// How long a connection waits for another writer's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The page cache of a read connection, in KiB (negative: SQLite's unit for KiB).
const READER_CACHE_KIB: i64 = -32 * 1024;
/// How many idle read connections are kept.
const MAX_IDLE_READERS: usize = 8;

/// The default [`Store`]: a SQLite file, written in batched transactions in
/// WAL mode, that several processes may share.
///
/// ```
/// use error_tracker::{SqliteStore, Store, GroupQuery};
/// let dir = tempfile::tempdir().unwrap();
/// let store = SqliteStore::open(dir.path().join("errors.sqlite"), 100).unwrap();
/// assert_eq!(store.list_groups(&GroupQuery::default()).unwrap().total, 0);
/// ```
pub struct SqliteStore {
    path: PathBuf,
    cap: u32,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.path).field("cap", &self.cap).finish()
    }
}

fn db_err(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy(e.to_string()),
        _ => StoreError::Database(e.to_string()),
    }
}

fn json_err(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

impl SqliteStore {
    /// Opens (creating it if needed) the file at `path`, applies the
    /// migrations, and keeps at most `occurrences_per_group` occurrences per group.
    pub fn open(path: impl AsRef<Path>, occurrences_per_group: u32) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let open_err =
            |e: rusqlite::Error| StoreError::Open { location: path.display().to_string(), reason: e.to_string() };
        let writer = open_connection(&path, true).map_err(open_err)?;
        migrate(&writer).map_err(open_err)?;
        Ok(Self {
            path,
            cap: occurrences_per_group.max(1),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
        })
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
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Checkpoint every 64 MiB of WAL rather than 4 MiB: batches of thousands
    // of occurrences would otherwise pay several checkpoints (and fsyncs) each.
    conn.pragma_update(None, "wal_autocheckpoint", 16_384)?;
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    // Read the version inside the write transaction: two processes opening a
    // new file at once must not both apply the same migration.
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

const UPSERT_GROUP: &str = "
    INSERT INTO exceptions (hash, host, path, method, request_data, exception_name, message, traceback,
                            count, created_on, last_seen)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
    ON CONFLICT (hash) DO UPDATE SET
        count = count + excluded.count,
        status = CASE status WHEN 'resolved' THEN 'unresolved' ELSE status END,
        host = iif(excluded.last_seen >= last_seen, excluded.host, host),
        path = iif(excluded.last_seen >= last_seen, excluded.path, path),
        method = iif(excluded.last_seen >= last_seen, excluded.method, method),
        request_data = iif(excluded.last_seen >= last_seen, excluded.request_data, request_data),
        message = iif(excluded.last_seen >= last_seen, excluded.message, message),
        traceback = iif(excluded.last_seen >= last_seen, excluded.traceback, traceback),
        last_seen = max(last_seen, excluded.last_seen)
    RETURNING count";

const INSERT_OCCURRENCE: &str = "
    INSERT INTO occurrences (event_id, hash, timestamp, times, exception_name, message, sources, host, pid,
                             thread, release, panic, request_data, frames, backtrace_key, extra)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";

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

impl Store for SqliteStore {
    fn write(&self, batch: &[Grouped]) -> Result<Vec<GroupChange>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        // Fold the batch per group first: one upsert per group, not per occurrence.
        let folded = FoldedBatch::new(batch);

        let mut conn = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db_err)?;
        let mut changes = Vec::with_capacity(folded.order.len());
        {
            let mut status_of = tx.prepare_cached("SELECT status FROM exceptions WHERE hash = ?1").map_err(db_err)?;
            let mut upsert = tx.prepare_cached(UPSERT_GROUP).map_err(db_err)?;
            for hash in &folded.order {
                let w = &folded.groups[hash];
                let before: Option<String> = status_of.query_row([hash], |r| r.get(0)).optional().map_err(db_err)?;
                let kind = match before.as_deref() {
                    None => ChangeKind::New,
                    Some("resolved") => ChangeKind::Regressed,
                    Some(_) => ChangeKind::Recurring,
                };
                let s = summary_of(hash, w.latest, w.times);
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
                            w.latest.timestamp.to_string(),
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
                    let json = serde_json::to_string(frames).map_err(json_err)?;
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
                        serde_json::to_string(&o.sources).map_err(json_err)?,
                        o.host,
                        o.pid,
                        o.thread,
                        o.release,
                        o.panic.as_ref().map(serde_json::to_string).transpose().map_err(json_err)?,
                        request_data(o),
                        serde_json::to_string(&o.frames).map_err(json_err)?,
                        key,
                        serde_json::to_string(&o.extra).map_err(json_err)?,
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

    fn list_groups(&self, q: &GroupQuery) -> Result<Page<GroupSummary>, StoreError> {
        let pattern = q.search.as_deref().filter(|s| !s.is_empty()).map(|s| {
            let escaped = s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            format!("%{escaped}%")
        });
        let status = q.status.map(Status::as_str);
        // Each case has a query that the indexes of migration 0002 answer: the
        // page is picked by rowid from an index walk (a deep OFFSET skips index
        // entries, not rows), then only its rows are read.
        let mut filter = Vec::new();
        if status.is_some() {
            filter.push("status = ?1");
        }
        if pattern.is_some() {
            filter.push(
                "(exception_name LIKE ?2 ESCAPE '\\' OR message LIKE ?2 ESCAPE '\\' OR path LIKE ?2 ESCAPE '\\')",
            );
        }
        // No WHERE at all when unfiltered, so that SQLite counts from the smallest index.
        let filter = if filter.is_empty() { String::new() } else { format!("WHERE {}", filter.join(" AND ")) };
        let (limit, offset) = (q.page.limit() as i64, q.page.offset() as i64);
        self.read(|conn| {
            // One snapshot for the pick, the count and the rows.
            let snapshot = conn.unchecked_transaction().map_err(db_err)?;
            let pick = |sql: &str, limit: i64, offset: i64| -> Result<Vec<(i64, i64)>, StoreError> {
                let mut stmt = conn.prepare_cached(sql).map_err(db_err)?;
                let mut rows = stmt
                    .query(rusqlite::params_from_iter(list_params(status, &pattern, limit, offset)))
                    .map_err(db_err)?;
                let mut picked = Vec::with_capacity(limit.max(0) as usize);
                while let Some(r) = rows.next().map_err(db_err)? {
                    picked.push((r.get(0).map_err(db_err)?, r.get(1).map_err(db_err)?));
                }
                Ok(picked)
            };
            let count = || -> Result<i64, StoreError> {
                // SQLite would count a search from the rows (120 MB for 100,000
                // groups); the covering index holds every column the filter reads.
                let index = if pattern.is_some() { "INDEXED BY exceptions_list" } else { "" };
                conn.prepare_cached(&format!("SELECT count(*) FROM exceptions {index} {filter}"))
                    .and_then(|mut s| {
                        let n = s.parameter_count();
                        s.query_row(rusqlite::params_from_iter(list_params(status, &pattern, 0, 0).take(n)), |r| {
                            r.get(0)
                        })
                    })
                    .map_err(db_err)
            };
            let (picked, total) = if pattern.is_some() {
                // A search walks the covering index in list order and stops at the
                // page's end. When the page comes out short, the walk has seen every
                // match, and the count needs no second scan.
                let picked = pick(
                    &format!(
                        "SELECT rowid, 0 FROM exceptions {filter} ORDER BY last_seen DESC, hash LIMIT ?3 OFFSET ?4"
                    ),
                    limit,
                    offset,
                )?;
                let n = picked.len() as i64;
                let total = if n < limit && (n > 0 || offset == 0) { offset + n } else { count()? };
                (picked, total)
            } else {
                // The count comes from an index; a page past the middle is then
                // walked from the oldest end, so no page skips more than half the list.
                let total = count()?;
                let from_end = total - offset - limit;
                let picked = if offset > total / 2 && from_end > -limit {
                    let mut p = pick(
                        &format!(
                            "SELECT rowid, 0 FROM exceptions {filter} ORDER BY last_seen, hash DESC LIMIT ?3 OFFSET ?4"
                        ),
                        limit + from_end.min(0),
                        from_end.max(0),
                    )?;
                    p.reverse();
                    p
                } else {
                    pick(
                        &format!(
                            "SELECT rowid, 0 FROM exceptions {filter} ORDER BY last_seen DESC, hash LIMIT ?3 OFFSET ?4"
                        ),
                        limit,
                        offset,
                    )?
                };
                (picked, total)
            };
            let mut stmt = conn
                .prepare_cached(&format!("SELECT {SUMMARY_COLUMNS} FROM exceptions WHERE rowid = ?1"))
                .map_err(db_err)?;
            let mut items = Vec::with_capacity(picked.len());
            for (rowid, _) in picked {
                if let Some(g) = stmt.query_row([rowid], summary_from_row).optional().map_err(db_err)? {
                    items.push(g);
                }
            }
            drop(stmt);
            snapshot.commit().map_err(db_err)?;
            Ok(Page { items, total: total as u64, page: q.page.page.max(1), per_page: q.page.per_page.max(1) })
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
                .prepare_cached(
                    "SELECT o.event_id, o.exception_name, o.message, o.sources, b.backtrace, o.thread, o.timestamp,
                            o.host, o.pid, o.release, o.panic, o.frames, o.request_data, o.extra
                     FROM occurrences AS o LEFT JOIN backtraces AS b USING (hash, backtrace_key)
                     WHERE o.hash = ?1 ORDER BY o.id DESC LIMIT ?2 OFFSET ?3",
                )
                .map_err(db_err)?;
            let rows = stmt
                .query_map(params![hash, page.limit() as i64, page.offset() as i64], occurrence_columns)
                .map_err(db_err)?;
            let mut items = Vec::new();
            for row in rows {
                items.push(occurrence_from_columns(row.map_err(db_err)?)?);
            }
            Ok(Page { items, total: total as u64, page: page.page.max(1), per_page: page.per_page.max(1) })
        })
    }

    fn hourly_counts(&self, hash: &str, since: Timestamp) -> Result<Vec<u64>, StoreError> {
        let first = since.as_secs().div_euclid(3600);
        let last = Timestamp::now().as_secs().div_euclid(3600).max(first);
        let found: HashMap<i64, u64> = self.read(|conn| {
            let mut stmt = conn
                .prepare_cached("SELECT hour, count FROM group_hours WHERE hash = ?1 AND hour BETWEEN ?2 AND ?3")
                .map_err(db_err)?;
            let rows = stmt
                .query_map(params![hash, first, last], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)? as u64)))
                .map_err(db_err)?;
            rows.collect::<Result<_, _>>().map_err(db_err)
        })?;
        Ok((first..=last).map(|h| found.get(&h).copied().unwrap_or(0)).collect())
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
}

/// The parameters of the list queries: ?1 status, ?2 pattern, ?3 limit, ?4 offset
/// (SQLite accepts unused numbered parameters only when bound, so all are bound).
fn list_params<'a>(
    status: Option<&'a str>,
    pattern: &'a Option<String>,
    limit: i64,
    offset: i64,
) -> impl Iterator<Item = rusqlite::types::Value> + 'a {
    use rusqlite::types::Value;
    [
        status.map_or(Value::Null, |s| Value::Text(s.to_owned())),
        pattern.as_ref().map_or(Value::Null, |p| Value::Text(p.clone())),
        Value::Integer(limit),
        Value::Integer(offset),
    ]
    .into_iter()
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
    ) = c;
    let backtrace = serde_json::from_str(&backtrace.ok_or_else(|| missing_backtrace(&id))?).map_err(json_err)?;
    Ok(Occurrence {
        id,
        exception_name,
        message,
        sources: serde_json::from_str(&sources).map_err(json_err)?,
        backtrace,
        thread,
        timestamp,
        host,
        pid,
        release,
        panic: panic.map(|p| serde_json::from_str(&p)).transpose().map_err(json_err)?,
        frames: serde_json::from_str(&frames).map_err(json_err)?,
        request: request.map(|p| serde_json::from_str(&p)).transpose().map_err(json_err)?,
        extra: serde_json::from_str(&extra).map_err(json_err)?,
    })
}
