-- error-tracker schema, version 1. Users query this file directly: keep the
-- seed's column names, and only ever add migrations after this one.

-- One row per group (fingerprint), with the seed's columns.
CREATE TABLE exceptions (
    hash              TEXT PRIMARY KEY,          -- the fingerprint
    host              TEXT NOT NULL,             -- host of the latest occurrence
    path              TEXT,                      -- request path of the latest occurrence
    method            TEXT,                      -- request method of the latest occurrence
    request_data      TEXT,                      -- request context of the latest occurrence (JSON)
    exception_name    TEXT NOT NULL,             -- std::any::type_name of the error, or 'panic'
    message           TEXT NOT NULL,             -- message of the latest occurrence
    traceback         TEXT NOT NULL,             -- readable traceback with each tracked frame's locals
    count             INTEGER NOT NULL,          -- exact number of occurrences
    created_on        TEXT NOT NULL,             -- first occurrence (RFC 3339 UTC); never changes
    last_seen         TEXT NOT NULL,             -- latest occurrence (RFC 3339 UTC)
    status            TEXT NOT NULL DEFAULT 'unresolved'
                      CHECK (status IN ('unresolved', 'resolved', 'ignored')),
    notification_sent INTEGER NOT NULL DEFAULT 0,
    ticket_raised     TEXT                       -- ticket id or URL, if one was raised
);
CREATE INDEX exceptions_by_last_seen ON exceptions (last_seen DESC);
CREATE INDEX exceptions_by_status ON exceptions (status, last_seen DESC);

-- Every stored occurrence, the newest N per group (N = occurrences_per_group).
CREATE TABLE occurrences (
    id             INTEGER PRIMARY KEY,          -- insertion order
    event_id       TEXT NOT NULL,                -- the UUID returned by record_exception!
    hash           TEXT NOT NULL REFERENCES exceptions (hash) ON DELETE CASCADE,
    timestamp      TEXT NOT NULL,                -- RFC 3339 UTC
    times          INTEGER NOT NULL DEFAULT 1,   -- > 1 when identical occurrences were folded under load
    exception_name TEXT NOT NULL,
    message        TEXT NOT NULL,
    sources        TEXT NOT NULL,                -- JSON array of the source() chain
    host           TEXT NOT NULL,
    pid            INTEGER NOT NULL,
    thread         TEXT,
    release        TEXT,
    panic          TEXT,                         -- JSON {message, location}
    request_data   TEXT,                         -- JSON request context
    frames         TEXT NOT NULL,                -- JSON tracked frames with args and locals
    backtrace_key  INTEGER NOT NULL,             -- the backtrace: backtraces (hash, backtrace_key)
    extra          TEXT NOT NULL                 -- JSON [{name, value}]
);
-- The group's occurrences in order; backtrace_key in the index lets the store
-- find whether a backtrace is still used without reading the rows.
CREATE INDEX occurrences_by_group ON occurrences (hash, id, backtrace_key);

-- Each distinct backtrace of a group, once: most occurrences of a group share
-- theirs. Join with occurrences USING (hash, backtrace_key). A row goes with
-- its group, or when the last occurrence that holds it is trimmed.
CREATE TABLE backtraces (
    hash          TEXT NOT NULL REFERENCES exceptions (hash) ON DELETE CASCADE,
    backtrace_key INTEGER NOT NULL,              -- content hash of the frames, the same in every process
    backtrace     TEXT NOT NULL,                 -- JSON [{function, file, line, in_app}]
    PRIMARY KEY (hash, backtrace_key)
) WITHOUT ROWID;

-- Occurrences per group and hour, for the charts.
CREATE TABLE group_hours (
    hash  TEXT NOT NULL REFERENCES exceptions (hash) ON DELETE CASCADE,
    hour  INTEGER NOT NULL,                      -- Unix time / 3600
    count INTEGER NOT NULL,
    PRIMARY KEY (hash, hour)
) WITHOUT ROWID;
