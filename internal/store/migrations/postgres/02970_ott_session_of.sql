-- +goose Up
-- The Hearth session whose access token signed an OpenTogetherTube token in
-- to its account (POST /api/user/login {accessToken}): signing that session
-- out signs the OTT token out too. NULL for a password sign-in, a guest, and
-- tokens signed in before.
ALTER TABLE ott_sessions ADD COLUMN session_id TEXT;
CREATE INDEX ott_sessions_session ON ott_sessions(session_id);

-- +goose Down
DROP INDEX ott_sessions_session;
ALTER TABLE ott_sessions DROP COLUMN session_id;
