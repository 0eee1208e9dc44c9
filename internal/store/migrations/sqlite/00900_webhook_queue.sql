-- +goose Up
-- The one webhook delivery queue (internal/webhooks.Engine): Owncast's and
-- Together's webhooks wait here until sent, so a restart loses none. kind
-- says whose delivery it is, ref which webhook; a node leases a row while it
-- sends it (claimed_until), attempts counts the tries made.
CREATE TABLE webhook_deliveries (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    ref           TEXT NOT NULL,
    url           TEXT NOT NULL,
    body          TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_at       BIGINT NOT NULL,
    claimed_until BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_next ON webhook_deliveries(next_at);
CREATE INDEX webhook_deliveries_ref ON webhook_deliveries(kind, ref);

-- +goose Down
DROP TABLE webhook_deliveries;
