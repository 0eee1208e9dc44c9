-- +goose Up
-- One store for every conversation (community channels, DMs, watch-room
-- chat, stage chat); see package internal/messages.
-- seq aliases the rowid so the FTS index's rowids survive VACUUM.
CREATE TABLE messages (
    seq                INTEGER PRIMARY KEY,
    id                 TEXT NOT NULL UNIQUE,
    conversation_id    TEXT NOT NULL,
    conversation_kind  TEXT NOT NULL,
    author_id          TEXT REFERENCES accounts(id) ON DELETE SET NULL,
    body               TEXT NOT NULL,
    search_text        TEXT NOT NULL DEFAULT '',
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

-- Full-text index over the diacritics-folded text (external content).
CREATE VIRTUAL TABLE messages_fts USING fts5(search_text, content='messages', content_rowid='seq',
    tokenize='unicode61 remove_diacritics 2');

-- +goose StatementBegin
CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts(rowid, search_text) VALUES (new.seq, new.search_text);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, search_text) VALUES ('delete', old.seq, old.search_text);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER messages_fts_au AFTER UPDATE OF search_text ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, search_text) VALUES ('delete', old.seq, old.search_text);
    INSERT INTO messages_fts(rowid, search_text) VALUES (new.seq, new.search_text);
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER messages_fts_au;
DROP TRIGGER messages_fts_ad;
DROP TRIGGER messages_fts_ai;
DROP TABLE messages_fts;
DROP TABLE read_states;
DROP TABLE message_reactions;
DROP TABLE messages;
