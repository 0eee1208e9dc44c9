-- +goose Up
-- A community stage channel's stream keys are each issued to one of its
-- managers (account_id): publishing with one checks that its holder may
-- still manage the channel, so a member kicked or demoted cannot go on
-- streaming with a key they read before. The keys of the default stage
-- (Owncast's, the instance admin's) have none. The keys stage channels
-- shared before this are dropped: each manager reads their own again.
ALTER TABLE live_stream_keys ADD COLUMN account_id TEXT;
DELETE FROM live_stream_keys WHERE account_id IS NULL AND stage_id IN (SELECT id FROM live_stages WHERE NOT is_default);
CREATE UNIQUE INDEX live_stream_keys_holder ON live_stream_keys(stage_id, account_id);

-- +goose Down
DROP INDEX live_stream_keys_holder;
ALTER TABLE live_stream_keys DROP COLUMN account_id;
