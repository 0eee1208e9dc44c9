-- +goose Up
-- The chat message that announced a clip in its stage channel
-- (recording.Clip's MessageID), so deleting the clip edits exactly that
-- message. '' when none was posted, and for clips cut before this: their
-- announcement is left as it is.
ALTER TABLE recording_clips ADD COLUMN message_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE recording_clips DROP COLUMN message_id;
