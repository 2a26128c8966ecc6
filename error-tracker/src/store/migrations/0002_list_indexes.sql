-- error-tracker schema, version 2: indexes for the UI's list of groups.
--
-- The list is ordered by (last_seen DESC, hash). With hash in the index, a
-- page deep in the list skips index entries instead of rows, and the count
-- and the status filter read the small status index. exceptions_list also
-- holds the searched columns, so a text search scans this index instead of
-- the rows with their tracebacks. These replace the two indexes of version 1,
-- so a write still updates two indexes per group.
DROP INDEX IF EXISTS exceptions_by_last_seen;
DROP INDEX IF EXISTS exceptions_by_status;
CREATE INDEX exceptions_list ON exceptions (last_seen DESC, hash, status, exception_name, message, path);
CREATE INDEX exceptions_by_status ON exceptions (status, last_seen DESC, hash);
