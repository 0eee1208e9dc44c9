-- +goose Up
-- The node whose upload directory holds a Together attachment or custom
-- emoji: another node of a cluster fetches the file from it (files.Peers)
-- instead of answering 404. '' for files uploaded before, which stay where
-- they are (a shared upload directory serves them).
ALTER TABLE together_attachments ADD COLUMN node_id TEXT NOT NULL DEFAULT '';
ALTER TABLE together_emojis ADD COLUMN node_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE together_emojis DROP COLUMN node_id;
ALTER TABLE together_attachments DROP COLUMN node_id;
