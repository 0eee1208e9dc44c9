-- +goose Up
-- Together's attachments, custom emoji, polls and scheduled events.
CREATE TABLE together_attachments (
    id          TEXT PRIMARY KEY,
    message_id  TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    filename    TEXT NOT NULL,
    stored_name TEXT NOT NULL,
    file_size   BIGINT NOT NULL,
    mime_type   TEXT NOT NULL,
    width       INTEGER,
    height      INTEGER,
    created_at  BIGINT NOT NULL
);
CREATE INDEX together_attachments_message ON together_attachments(message_id);

CREATE TABLE together_emojis (
    id           TEXT PRIMARY KEY,
    community_id TEXT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    created_by   TEXT NOT NULL,
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    file_size    BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    UNIQUE (community_id, name)
);

CREATE TABLE together_polls (
    id          TEXT PRIMARY KEY,
    message_id  TEXT NOT NULL,
    channel_id  TEXT NOT NULL,
    question    TEXT NOT NULL,
    options     TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX together_polls_message ON together_polls(message_id);

CREATE TABLE together_poll_votes (
    poll_id    TEXT NOT NULL REFERENCES together_polls(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    option_id  TEXT NOT NULL,
    PRIMARY KEY (poll_id, account_id)
);

CREATE TABLE together_events (
    id           TEXT PRIMARY KEY,
    community_id TEXT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    channel_id   TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT,
    starts_at    BIGINT NOT NULL,
    created_by   TEXT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX together_events_community ON together_events(community_id, starts_at);
CREATE INDEX together_events_message ON together_events(message_id);

-- +goose Down
DROP TABLE together_events;
DROP TABLE together_poll_votes;
DROP TABLE together_polls;
DROP TABLE together_emojis;
DROP TABLE together_attachments;
