-- +goose Up
-- The node that cut a clip and holds its MP4 (recording.Service's node
-- id), so another node without S3 can fetch the file from it. Clips cut
-- before this have none: only their own node serves them, as before.
ALTER TABLE recording_clips ADD COLUMN node_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE recording_clips DROP COLUMN node_id;
