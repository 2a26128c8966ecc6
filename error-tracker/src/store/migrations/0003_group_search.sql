-- error-tracker schema, version 3: a trigram index for the UI's search.
--
-- The UI searches exception_name, message and path for a substring, without
-- regard to ASCII case (what `LIKE` does). Without an index, counting the
-- matches reads every group. exceptions_search is an FTS5 trigram index of
-- those three columns, lower-cased with SQLite's lower() (ASCII only, like
-- LIKE), so that a phrase query of 3 or more characters finds exactly the
-- groups that LIKE finds. It holds no text of its own: its content is the
-- view exceptions_search_text, and the triggers below keep it in step with
-- exceptions. Nobody needs to write to it; if it ever drifts (a tool that
-- renumbers rowids, a copy made with the triggers dropped), rebuild it with
--     INSERT INTO exceptions_search (exceptions_search) VALUES ('rebuild');
CREATE VIEW exceptions_search_text (id, exception_name, message, path) AS
    SELECT rowid, lower(exception_name), lower(message), lower(path) FROM exceptions;

-- columnsize=0: no per-row token counts, which only ranking (unused) reads.
CREATE VIRTUAL TABLE exceptions_search USING fts5 (
    exception_name, message, path,
    content = 'exceptions_search_text', content_rowid = 'id',
    tokenize = 'trigram case_sensitive 1', columnsize = 0
);

CREATE TRIGGER exceptions_search_insert AFTER INSERT ON exceptions BEGIN
    INSERT INTO exceptions_search (rowid, exception_name, message, path)
    VALUES (new.rowid, lower(new.exception_name), lower(new.message), lower(new.path));
END;

CREATE TRIGGER exceptions_search_delete AFTER DELETE ON exceptions BEGIN
    INSERT INTO exceptions_search (exceptions_search, rowid, exception_name, message, path)
    VALUES ('delete', old.rowid, lower(old.exception_name), lower(old.message), lower(old.path));
END;

-- Every write upserts each group of the batch; most keep their text (the
-- message of a group often repeats), so re-index only when the text changed.
CREATE TRIGGER exceptions_search_update AFTER UPDATE OF exception_name, message, path ON exceptions
WHEN old.exception_name IS NOT new.exception_name OR old.message IS NOT new.message OR old.path IS NOT new.path
BEGIN
    INSERT INTO exceptions_search (exceptions_search, rowid, exception_name, message, path)
    VALUES ('delete', old.rowid, lower(old.exception_name), lower(old.message), lower(old.path));
    INSERT INTO exceptions_search (rowid, exception_name, message, path)
    VALUES (new.rowid, lower(new.exception_name), lower(new.message), lower(new.path));
END;

-- Index the groups already stored.
INSERT INTO exceptions_search (exceptions_search) VALUES ('rebuild');
