-- error-tracker schema, version 7: the UI's other orders and filters of the
-- list of groups (GroupQuery's sort, host and release). (Version 6 is the
-- breadcrumbs and spans of issue 13.)
--
-- Ordered by count or first seen, a page walks these indexes as the default
-- order walks exceptions_list; the host filter walks its own index in list
-- order; the release filter finds its groups among the stored occurrences.
-- count changes on every write of a group, so exceptions_by_count costs the
-- writer one index update per group and batch, as exceptions_list does.
CREATE INDEX IF NOT EXISTS exceptions_by_count ON exceptions (count DESC, hash);
CREATE INDEX IF NOT EXISTS exceptions_by_first_seen ON exceptions (created_on DESC, hash);
CREATE INDEX IF NOT EXISTS exceptions_by_host ON exceptions (host, last_seen DESC, hash);
CREATE INDEX IF NOT EXISTS occurrences_by_release ON occurrences (release, hash);
