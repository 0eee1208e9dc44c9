-- +goose Up
-- Owncast-compatible stage chat: the chat profile of an account (colour,
-- previous names, MODERATOR scope), chat access tokens (hashed), IP bans and
-- webhook subscriptions. Messages live in the one messages table.
CREATE TABLE owncast_chat_users (
    account_id       TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    display_name     TEXT NOT NULL,
    name_key         TEXT NOT NULL,
    display_color    INTEGER NOT NULL DEFAULT 0,
    previous_names   TEXT NOT NULL DEFAULT '',
    name_changed_at  BIGINT,
    scopes           TEXT NOT NULL DEFAULT '',
    authenticated_at BIGINT,
    created_at       BIGINT NOT NULL
);
CREATE INDEX owncast_chat_users_name ON owncast_chat_users(name_key);

CREATE TABLE owncast_chat_tokens (
    token_hash  TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL
);
CREATE INDEX owncast_chat_tokens_account ON owncast_chat_tokens(account_id);

CREATE TABLE owncast_ip_bans (
    ip          TEXT PRIMARY KEY,
    notes       TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL
);

CREATE TABLE webhooks (
    id            TEXT PRIMARY KEY,
    url           TEXT NOT NULL,
    events        TEXT NOT NULL,
    secret        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    last_error    TEXT NOT NULL DEFAULT '',
    last_error_at BIGINT
);

-- +goose Down
DROP TABLE webhooks;
DROP TABLE owncast_ip_bans;
DROP TABLE owncast_chat_tokens;
DROP TABLE owncast_chat_users;
