-- error-tracker schema, version 5: the notification outbox (0004 is the
-- store split's). Idempotent (IF NOT EXISTS), so that it is harmless should
-- the two be applied in either order on a development file.
--
-- One row per notification that a channel still owes: a channel is one
-- email notifier, webhook, Slack hook or ticket system, by name (`email`,
-- `webhook`, `slack`, `github`, `jira`, `ticket-webhook`; a second one of a
-- kind is `webhook-2`, …). A row is written with the batch that makes the
-- notification due. One that its channel gives up on (a permanent refusal)
-- is deleted; one that is delivered stays as a marker (lease_until =
-- 9223372036854775807, which no claim takes) until the group's other
-- channels are done, and then all of the group's rows go. What a channel
-- could not deliver (it is down) stays here and is sent when the channel
-- answers again, by this process or the next one that starts with the same
-- channels.
--
-- exceptions.notification_sent is 0 while any channel owes the group a
-- notification, and 1 once none does and at least one delivered it.
CREATE TABLE IF NOT EXISTS notification_outbox (
    channel     TEXT NOT NULL,              -- the channel's name
    hash        TEXT NOT NULL REFERENCES exceptions (hash) ON DELETE CASCADE,
    kind        TEXT NOT NULL,              -- new, regressed, every or reminder
    id          TEXT NOT NULL,              -- the notification id: Idempotency-Key header, Message-ID
    payload     TEXT NOT NULL,              -- JSON: the reason, the count and the masked occurrence
    created_on  TEXT NOT NULL,              -- RFC 3339 UTC, when it became due
    lease_until INTEGER NOT NULL DEFAULT 0, -- Unix ms: claimed by a process until then; 0: free
    PRIMARY KEY (channel, hash, kind)
);
CREATE UNIQUE INDEX IF NOT EXISTS notification_outbox_by_id ON notification_outbox (channel, id);
CREATE INDEX IF NOT EXISTS notification_outbox_by_age ON notification_outbox (channel, created_on);
CREATE INDEX IF NOT EXISTS notification_outbox_by_group ON notification_outbox (hash);
