-- error-tracker PostgreSQL schema, version 4: what the program logged before
-- an occurrence, the spans it was in, and the error's own backtrace. The
-- columns and their JSON are the SQLite schema's (its version 6, which
-- documents them); NULL when there is none.
ALTER TABLE occurrences ADD COLUMN IF NOT EXISTS breadcrumbs TEXT;
ALTER TABLE occurrences ADD COLUMN IF NOT EXISTS spans TEXT;
ALTER TABLE occurrences ADD COLUMN IF NOT EXISTS error_backtrace TEXT;
