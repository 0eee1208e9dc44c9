-- +goose Up
-- Together's per-server outgoing webhooks.
CREATE TABLE together_webhooks (
    id                TEXT PRIMARY KEY,
    community_id      TEXT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    created_by        TEXT NOT NULL,
    name              TEXT NOT NULL,
    url               TEXT NOT NULL,
    secret            TEXT NOT NULL,
    event_types       TEXT NOT NULL,
    enabled           BOOLEAN NOT NULL DEFAULT TRUE,
    delivery_failures INTEGER NOT NULL DEFAULT 0,
    last_used_at      BIGINT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX together_webhooks_community ON together_webhooks(community_id);

-- +goose Down
DROP TABLE together_webhooks;
