-- +goose Up
-- One store for every conversation (community channels, DMs, watch-room
-- chat, stage chat); see package internal/messages.
CREATE TABLE messages (
    id                 TEXT PRIMARY KEY,
    conversation_id    TEXT NOT NULL,
    conversation_kind  TEXT NOT NULL,
    author_id          TEXT REFERENCES accounts(id) ON DELETE SET NULL,
    body               TEXT NOT NULL,
    search_text        TEXT NOT NULL DEFAULT '',
    search_tsv         tsvector GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED,
    reply_to           TEXT,
    thread_id          TEXT,
    thread_reply_count INTEGER NOT NULL DEFAULT 0,
    mention_user_ids   TEXT NOT NULL DEFAULT '',
    mention_everyone   BOOLEAN NOT NULL DEFAULT FALSE,
    hidden             BOOLEAN NOT NULL DEFAULT FALSE,
    deleted            BOOLEAN NOT NULL DEFAULT FALSE,
    pinned             BOOLEAN NOT NULL DEFAULT FALSE,
    pinned_by          TEXT,
    pinned_at          BIGINT,
    meta               TEXT NOT NULL DEFAULT '',
    created_at         BIGINT NOT NULL,
    edited_at          BIGINT
);
CREATE INDEX messages_conversation ON messages(conversation_id, id);
CREATE INDEX messages_thread ON messages(thread_id, id) WHERE thread_id IS NOT NULL;
CREATE INDEX messages_pinned ON messages(conversation_id, pinned_at) WHERE pinned;
CREATE INDEX messages_search ON messages USING GIN (search_tsv);

CREATE TABLE message_reactions (
    message_id  TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    emoji       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (message_id, account_id, emoji)
);

CREATE TABLE read_states (
    account_id      TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL,
    last_read_at    BIGINT NOT NULL,
    PRIMARY KEY (account_id, conversation_id)
);

-- +goose Down
DROP TABLE read_states;
DROP TABLE message_reactions;
DROP TABLE messages;
