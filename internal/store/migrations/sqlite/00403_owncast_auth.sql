-- +goose Up
-- IndieAuth sign-in for chat users (Owncast's auth table and its pending
-- requests, which Owncast keeps in memory): pending requests live here so
-- the callback may reach any node. token_hash is the chat token that
-- started the flow (stored hashed, like every chat token).
CREATE TABLE owncast_auth_requests (
    state         TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    token_hash    TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    me            TEXT NOT NULL,
    endpoint      TEXT NOT NULL,
    redirect_uri  TEXT NOT NULL,
    client_id     TEXT NOT NULL,
    code_verifier TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX owncast_auth_requests_at ON owncast_auth_requests(created_at);

-- An external identity (provider INDIEAUTH, identifier the profile URL)
-- linked to a chat user's account.
CREATE TABLE owncast_auth_identities (
    provider   TEXT NOT NULL,
    identifier TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (provider, identifier)
);

-- +goose Down
DROP TABLE owncast_auth_identities;
DROP TABLE owncast_auth_requests;
