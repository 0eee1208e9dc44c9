-- +goose Up
-- Which node runs a stage's broadcast (one publisher per stage in the
-- cluster): taken by a conditional upsert when a publish starts, so two
-- publishes to two nodes at the same instant cannot both start; renewed by
-- the node while the broadcast runs, deleted when it ends. An expired lease
-- (its node died) may be taken by another node; the node itself, restarted
-- after a crash, takes its own back. session is the broadcast's id.
CREATE TABLE live_publish_leases (
    stage_id    TEXT PRIMARY KEY,
    node_id     TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);

-- +goose Down
DROP TABLE live_publish_leases;
