-- error-tracker SQLite schema, version 4: what retention deleted.
--
-- The writer deletes groups past the retention limits (Config::max_age,
-- max_groups, max_database_size; `error-tracker-ui prune`): their rows are
-- gone, and this table keeps how many groups and occurrences each limit
-- took, so that the totals stay known.
CREATE TABLE pruned (
    reason      TEXT PRIMARY KEY,            -- 'age', 'groups' or 'size'
    groups      INTEGER NOT NULL DEFAULT 0,  -- groups deleted
    occurrences INTEGER NOT NULL DEFAULT 0,  -- the sum of their counts
    last_pruned TEXT NOT NULL                -- RFC 3339 UTC
);
