-- error-tracker SQLite schema, version 6: what the program logged before an
-- occurrence, the spans it was in, and the error's own backtrace.
--
-- Each is JSON, NULL when there is none (every row written before this
-- version, and occurrences recorded without the `tracing`, `log` or
-- `anyhow` integrations). All of it is masked like the other columns.
--
-- breadcrumbs: the last events logged (by default 100, INFO and above) by
--   the request being served, else by the failing thread, oldest first:
--   [{"timestamp": "2026-11-25T14:37:42.123456Z", "level": "INFO",
--     "target": "my_app::orders", "message": "loading order",
--     "fields": [{"name": "id", "value": 17}]}]
-- spans: the tracing spans entered where it failed, outermost first:
--   [{"name": "request", "target": "my_app", "fields": [{"name": "method", "value": "GET"}]},
--    {"name": "load_order", "target": "my_app::orders", "fields": [{"name": "id", "value": 17}]}]
-- error_backtrace: where the error was created, innermost first, when it
--   carried a captured backtrace (anyhow under RUST_BACKTRACE=1 or
--   RUST_LIB_BACKTRACE=1); the backtraces table holds where it was recorded:
--   [{"function": "my_app::db::load", "file": "src/db.rs", "line": 12, "in_app": true}]
ALTER TABLE occurrences ADD COLUMN breadcrumbs TEXT;
ALTER TABLE occurrences ADD COLUMN spans TEXT;
ALTER TABLE occurrences ADD COLUMN error_backtrace TEXT;
