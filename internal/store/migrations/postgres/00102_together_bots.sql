-- +goose Up
-- Together's bot records (the bot's account and token live in identity).
CREATE TABLE together_bots (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    token_id    TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT,
    created_by  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    revoked_at  BIGINT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX together_bots_creator ON together_bots(created_by);

-- +goose Down
DROP TABLE together_bots;
