-- +goose Up
-- The session a signed-in account's Owncast chat token was taken with
-- (POST /api/chat/register with an access token): signing that session out
-- deletes the token. NULL for guests' tokens and for tokens taken before.
ALTER TABLE owncast_chat_tokens ADD COLUMN session_id TEXT;
CREATE INDEX owncast_chat_tokens_session ON owncast_chat_tokens(session_id);

-- +goose Down
DROP INDEX owncast_chat_tokens_session;
ALTER TABLE owncast_chat_tokens DROP COLUMN session_id;
