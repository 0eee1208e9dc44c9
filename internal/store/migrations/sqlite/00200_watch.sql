-- +goose Up
CREATE TABLE watch_rooms (
    name          TEXT NOT NULL,
    name_key      TEXT PRIMARY KEY,
    title         TEXT NOT NULL DEFAULT '',
    description   TEXT NOT NULL DEFAULT '',
    visibility    TEXT NOT NULL,
    queue_mode    TEXT NOT NULL,
    is_temporary  BOOLEAN NOT NULL,
    owner_id      TEXT REFERENCES accounts(id) ON DELETE SET NULL,
    settings      TEXT NOT NULL DEFAULT '{}',
    state         TEXT NOT NULL DEFAULT '{}',
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX watch_rooms_owner ON watch_rooms(owner_id);
CREATE INDEX watch_rooms_temporary ON watch_rooms(updated_at) WHERE is_temporary;

-- OpenTogetherTube session tokens: the token's hash, the account it acts as
-- now (a guest, or a registered account after login) and the guest it
-- started as.
CREATE TABLE ott_sessions (
    token_hash    TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    guest_id      TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX ott_sessions_account ON ott_sessions(account_id);
CREATE INDEX ott_sessions_expires ON ott_sessions(expires_at);

-- Cached video metadata for cache-safe services.
CREATE TABLE media_cache (
    service      TEXT NOT NULL,
    service_id   TEXT NOT NULL,
    data         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (service, service_id)
);

-- +goose Down
DROP TABLE media_cache;
DROP TABLE ott_sessions;
DROP TABLE watch_rooms;
