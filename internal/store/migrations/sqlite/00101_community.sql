-- +goose Up
CREATE TABLE communities (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    owner_id       TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    icon_url       TEXT,
    is_public      BOOLEAN NOT NULL DEFAULT FALSE,
    require_invite BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX communities_public ON communities(is_public) WHERE is_public;

CREATE TABLE community_members (
    community_id TEXT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    account_id   TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    nickname     TEXT,
    joined_at    BIGINT NOT NULL,
    PRIMARY KEY (community_id, account_id)
);
CREATE INDEX community_members_account ON community_members(account_id);

CREATE TABLE channels (
    id           TEXT PRIMARY KEY,
    community_id TEXT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('text', 'voice', 'watch', 'stage')),
    position     INTEGER NOT NULL DEFAULT 0,
    category     TEXT,
    topic        TEXT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX channels_community ON channels(community_id, position);

CREATE TABLE roles (
    id           TEXT PRIMARY KEY,
    community_id TEXT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    permissions  BIGINT NOT NULL DEFAULT 0,
    color        TEXT,
    position     INTEGER NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL
);
CREATE INDEX roles_community ON roles(community_id);

CREATE TABLE member_roles (
    community_id TEXT NOT NULL,
    account_id   TEXT NOT NULL,
    role_id      TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (account_id, role_id),
    FOREIGN KEY (community_id, account_id) REFERENCES community_members(community_id, account_id) ON DELETE CASCADE
);
CREATE INDEX member_roles_community ON member_roles(community_id);

CREATE TABLE channel_overrides (
    id         TEXT PRIMARY KEY,
    channel_id TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    role_id    TEXT REFERENCES roles(id) ON DELETE CASCADE,
    account_id TEXT REFERENCES accounts(id) ON DELETE CASCADE,
    allow_bits BIGINT NOT NULL DEFAULT 0,
    deny_bits  BIGINT NOT NULL DEFAULT 0,
    target     TEXT NOT NULL,
    UNIQUE (channel_id, target)
);

CREATE TABLE invites (
    id           TEXT PRIMARY KEY,
    community_id TEXT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    code         TEXT NOT NULL UNIQUE,
    created_by   TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    max_uses     INTEGER,
    uses         INTEGER NOT NULL DEFAULT 0,
    expires_at   BIGINT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX invites_community ON invites(community_id);

CREATE TABLE community_bans (
    community_id TEXT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    account_id   TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    reason       TEXT,
    banned_by    TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (community_id, account_id)
);

CREATE TABLE member_timeouts (
    community_id TEXT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    account_id   TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    until        BIGINT NOT NULL,
    PRIMARY KEY (community_id, account_id)
);

CREATE TABLE dm_channels (
    id              TEXT PRIMARY KEY,
    member_a        TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    member_b        TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at      BIGINT NOT NULL,
    last_message_at BIGINT,
    UNIQUE (member_a, member_b)
);
CREATE INDEX dm_channels_b ON dm_channels(member_b);

CREATE TABLE profiles (
    account_id    TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    bio           TEXT,
    pronouns      TEXT,
    status        TEXT NOT NULL DEFAULT 'offline',
    custom_status TEXT,
    activity      TEXT
);

-- +goose Down
DROP TABLE profiles;
DROP TABLE dm_channels;
DROP TABLE member_timeouts;
DROP TABLE community_bans;
DROP TABLE invites;
DROP TABLE channel_overrides;
DROP TABLE member_roles;
DROP TABLE roles;
DROP TABLE channels;
DROP TABLE community_members;
DROP TABLE communities;
