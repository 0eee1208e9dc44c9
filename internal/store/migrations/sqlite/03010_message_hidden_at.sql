-- +goose Up
-- When a moderator hid a message (Owncast's hiddenAt); NULL while shown,
-- and for messages hidden before it was kept.
ALTER TABLE messages ADD COLUMN hidden_at INTEGER;

-- +goose Down
ALTER TABLE messages DROP COLUMN hidden_at;
