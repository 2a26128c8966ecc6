-- error-tracker PostgreSQL schema, version 3: the notification outbox, as in
-- SQLite (../0005_notification_outbox.sql, which explains it). Version 2 is
-- the store split's; this one is idempotent (IF NOT EXISTS).
CREATE TABLE IF NOT EXISTS notification_outbox (
    channel     TEXT COLLATE "C" NOT NULL,
    hash        TEXT COLLATE "C" NOT NULL REFERENCES exceptions (hash) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    id          TEXT NOT NULL,
    payload     TEXT NOT NULL,
    created_on  TEXT COLLATE "C" NOT NULL,
    lease_until BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (channel, hash, kind)
);
CREATE UNIQUE INDEX IF NOT EXISTS notification_outbox_by_id ON notification_outbox (channel, id);
CREATE INDEX IF NOT EXISTS notification_outbox_by_age ON notification_outbox (channel, created_on);
CREATE INDEX IF NOT EXISTS notification_outbox_by_group ON notification_outbox (hash);
