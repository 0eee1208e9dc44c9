-- +goose Up
-- Together's automod (config, word filters, log) and server audit log.
CREATE TABLE together_automod (
    community_id        TEXT PRIMARY KEY REFERENCES communities(id) ON DELETE CASCADE,
    enabled             BOOLEAN NOT NULL DEFAULT FALSE,
    spam_enabled        BOOLEAN NOT NULL DEFAULT FALSE,
    spam_max_messages   INTEGER NOT NULL DEFAULT 5,
    spam_window_secs    INTEGER NOT NULL DEFAULT 5,
    spam_action         TEXT NOT NULL DEFAULT 'delete',
    duplicate_enabled   BOOLEAN NOT NULL DEFAULT FALSE,
    word_filter_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    word_filter_action  TEXT NOT NULL DEFAULT 'delete',
    timeout_minutes     INTEGER NOT NULL DEFAULT 10,
    updated_at          BIGINT NOT NULL
);

CREATE TABLE together_automod_words (
    id           TEXT PRIMARY KEY,
    community_id TEXT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    word         TEXT NOT NULL,
    created_by   TEXT,
    created_at   BIGINT NOT NULL,
    UNIQUE (community_id, word)
);

CREATE TABLE together_automod_logs (
    id              TEXT PRIMARY KEY,
    community_id    TEXT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    channel_id      TEXT,
    user_id         TEXT,
    username        TEXT,
    rule_type       TEXT NOT NULL,
    action_taken    TEXT NOT NULL,
    matched_term    TEXT,
    message_content TEXT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX together_automod_logs_community ON together_automod_logs(community_id, created_at);

CREATE TABLE together_audit_logs (
    id           TEXT PRIMARY KEY,
    community_id TEXT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    actor_id     TEXT,
    action       TEXT NOT NULL,
    target_type  TEXT,
    target_id    TEXT,
    details      TEXT NOT NULL DEFAULT '{}',
    ip_address   TEXT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX together_audit_logs_community ON together_audit_logs(community_id, created_at);

-- +goose Down
DROP TABLE together_audit_logs;
DROP TABLE together_automod_logs;
DROP TABLE together_automod_words;
DROP TABLE together_automod;
