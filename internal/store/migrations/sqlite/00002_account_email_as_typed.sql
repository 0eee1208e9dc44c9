-- +goose Up
-- The address as its owner typed it (OpenTogetherTube returns it so). The
-- email column keeps the lowercased address, whose UNIQUE constraint makes
-- addresses unique ignoring case; NULL here (rows from before) shows email.
ALTER TABLE accounts ADD COLUMN email_typed TEXT;

-- +goose Down
ALTER TABLE accounts DROP COLUMN email_typed;
