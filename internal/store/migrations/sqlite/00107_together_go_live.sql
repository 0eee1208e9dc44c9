-- +goose Up
-- Together go-live sessions (one per voice channel), shared by nodes so a
-- session started through one node is seen and stopped through any.
CREATE TABLE together_go_live (
    channel_id     TEXT PRIMARY KEY REFERENCES channels(id) ON DELETE CASCADE,
    broadcaster_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    quality        TEXT NOT NULL,
    started_at     BIGINT NOT NULL
);

-- +goose Down
DROP TABLE together_go_live;
