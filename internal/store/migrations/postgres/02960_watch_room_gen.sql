-- +goose Up
-- Fencing of watch room saves (watch.Store): gen is the generation of the
-- loaded copy that may write the row (every load takes a new one), version
-- the newest save of that copy written. A node whose lease ran out while it
-- stalled, and whose room another node loaded since, can no longer write
-- its stale copy over the row; nor can a save encoded before a newer one of
-- the same copy be written after it.
ALTER TABLE watch_rooms ADD COLUMN gen BIGINT NOT NULL DEFAULT 0;
ALTER TABLE watch_rooms ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE watch_rooms DROP COLUMN version;
ALTER TABLE watch_rooms DROP COLUMN gen;
