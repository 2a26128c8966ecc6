-- error-tracker PostgreSQL schema, version 2: the batches written, by id, and what retention deleted.
--
-- A batch's id is a hash of the ids of its occurrences. A writer whose
-- connection died after it sent COMMIT cannot know whether the batch was
-- stored; it writes it again, and this table's key makes the second write
-- a no-op, so the batch is counted once. Rows older than a day are deleted
-- by the writers as they go.
CREATE TABLE error_tracker_batches (
    id         TEXT COLLATE "C" PRIMARY KEY,  -- hex SHA-1 of the batch's occurrence ids and counts
    written_on TEXT COLLATE "C" NOT NULL      -- RFC 3339 UTC
);
CREATE INDEX error_tracker_batches_by_time ON error_tracker_batches (written_on);

-- What retention deleted (as in the SQLite schema's migration 0004): per
-- limit, how many groups and occurrences it took.
CREATE TABLE pruned (
    reason      TEXT COLLATE "C" PRIMARY KEY,  -- 'age' or 'groups'
    groups      BIGINT NOT NULL DEFAULT 0,     -- groups deleted
    occurrences BIGINT NOT NULL DEFAULT 0,     -- the sum of their counts
    last_pruned TEXT COLLATE "C" NOT NULL      -- RFC 3339 UTC
);
