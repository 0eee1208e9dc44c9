-- +goose Up
-- A session's last refresh-token rotation, kept for its grace (10 s):
-- the hash of the token rotated away, the new token pair sealed with a key
-- derived from the signing secret, a hash of the client that rotated it,
-- and the end of the grace. A retry of the old token by the same client
-- within the grace gets the same pair back from any node of a cluster
-- (before, the grace lived in the rotating node's memory, and the same
-- retry on another node revoked the session).
ALTER TABLE sessions ADD COLUMN rotated_from TEXT;
ALTER TABLE sessions ADD COLUMN rotated_pair TEXT;
ALTER TABLE sessions ADD COLUMN rotated_client TEXT;
ALTER TABLE sessions ADD COLUMN rotated_until BIGINT;

-- +goose Down
ALTER TABLE sessions DROP COLUMN rotated_until;
ALTER TABLE sessions DROP COLUMN rotated_client;
ALTER TABLE sessions DROP COLUMN rotated_pair;
ALTER TABLE sessions DROP COLUMN rotated_from;
