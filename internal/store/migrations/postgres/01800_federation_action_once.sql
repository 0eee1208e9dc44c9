-- +goose Up
-- An engagement is recorded once per remote actor, type and object (the
-- post liked or boosted, the local actor followed), as Owncast does, so a
-- remote server cannot post one actor's like into chat again and again
-- under new activity ids. Rows from before keep object '' and stay out of
-- the index.
ALTER TABLE federation_actions ADD COLUMN object TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX federation_actions_once ON federation_actions(actor, actor_iri, type, object) WHERE object <> '';

-- +goose Down
DROP INDEX federation_actions_once;
ALTER TABLE federation_actions DROP COLUMN object;
