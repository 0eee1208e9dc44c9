-- +goose Up
-- Who uploaded each attachment, for the per-account upload quota
-- (--upload-quota-bytes). Attachments so far belong to their message's
-- author (only the author may attach).
ALTER TABLE together_attachments ADD COLUMN uploader_id TEXT NOT NULL DEFAULT '';
UPDATE together_attachments SET uploader_id = COALESCE(
    (SELECT m.author_id FROM messages m WHERE m.id = together_attachments.message_id), '');
CREATE INDEX together_attachments_uploader ON together_attachments(uploader_id);

-- +goose Down
DROP INDEX together_attachments_uploader;
ALTER TABLE together_attachments DROP COLUMN uploader_id;
