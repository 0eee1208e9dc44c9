-- +goose Up
-- Federation's ActivityPub deliveries move onto the one delivery queue
-- (webhook_deliveries, internal/webhooks.Engine): kind 'federation', ref and
-- url the inbox (the per-inbox bound counts by ref); the signing key is the
-- activity's actor's, read from the body when it is sent. A lease an older
-- node held is released.
INSERT INTO webhook_deliveries (id, kind, ref, url, body, attempts, next_at, claimed_until, created_at)
    SELECT id, 'federation', inbox, inbox, body, attempts, next_at, 0, created_at FROM federation_deliveries;
DROP TABLE federation_deliveries;

-- +goose Down
CREATE TABLE federation_deliveries (
    id            TEXT PRIMARY KEY,
    inbox         TEXT NOT NULL,
    key_id        TEXT NOT NULL,
    body          TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_at       BIGINT NOT NULL,
    claimed_until BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);
CREATE INDEX federation_deliveries_next ON federation_deliveries(next_at);
CREATE INDEX federation_deliveries_inbox ON federation_deliveries(inbox, created_at);
INSERT INTO federation_deliveries (id, inbox, key_id, body, attempts, next_at, claimed_until, created_at)
    SELECT id, url, COALESCE(body::json->>'actor', '') || '#main-key', body, attempts, next_at, 0, created_at
    FROM webhook_deliveries WHERE kind = 'federation';
DELETE FROM webhook_deliveries WHERE kind = 'federation';
