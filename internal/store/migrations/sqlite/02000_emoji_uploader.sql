-- +goose Up
-- Custom emoji count towards their creator's upload quota
-- (--upload-quota-bytes), which sums them by creator.
CREATE INDEX together_emojis_created_by ON together_emojis(created_by);

-- +goose Down
DROP INDEX together_emojis_created_by;
