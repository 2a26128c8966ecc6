-- error-tracker schema (PostgreSQL), version 5: the UI's other orders and
-- filters of the list of groups (GroupQuery's sort, host and release).
--
-- The list is ordered by last seen (exceptions_list), count or first seen,
-- each with hash to break ties, and filtered by the host of the latest
-- occurrence or by a release among the stored occurrences. (Version 4 is
-- the breadcrumbs and spans of issue 13.)
CREATE INDEX IF NOT EXISTS exceptions_by_count ON exceptions (count DESC, hash);
CREATE INDEX IF NOT EXISTS exceptions_by_first_seen ON exceptions (created_on DESC, hash);
CREATE INDEX IF NOT EXISTS exceptions_by_host ON exceptions (host, last_seen DESC, hash);
CREATE INDEX IF NOT EXISTS occurrences_by_release ON occurrences (release, hash);
