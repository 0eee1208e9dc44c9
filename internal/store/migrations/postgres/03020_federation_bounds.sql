-- +goose Up
-- A follower's remote domain (its actor id's registrable domain, which
-- federation computes), so a local actor's followers per remote domain can
-- be counted and bounded; rows from before keep '' and are not counted
-- until their server follows again. Engagement actions are kept per local
-- actor up to a bound, the oldest pruned: the index serves that prune.
ALTER TABLE federation_followers ADD COLUMN domain TEXT NOT NULL DEFAULT '';
CREATE INDEX federation_followers_domain ON federation_followers(actor, domain);
CREATE INDEX federation_actions_actor_at ON federation_actions(actor, created_at);

-- +goose Down
DROP INDEX federation_actions_actor_at;
DROP INDEX federation_followers_domain;
ALTER TABLE federation_followers DROP COLUMN domain;
