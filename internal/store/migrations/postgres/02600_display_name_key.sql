-- +goose Up
-- An account's display name as identity.NameKey folds it (NFKC and case
-- folding), which is how a name is held on every surface. It is made in Go
-- (SQLite's lower() folds only ASCII), by the store on each write and, for
-- the rows already there, by the Go migration that follows (2601), which
-- also remakes the chat users' name_key under the same fold.
ALTER TABLE accounts ADD COLUMN display_name_key TEXT NOT NULL DEFAULT '';
CREATE INDEX accounts_display_name_key ON accounts(display_name_key);

-- +goose Down
DROP INDEX accounts_display_name_key;
ALTER TABLE accounts DROP COLUMN display_name_key;
