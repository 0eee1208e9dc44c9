-- +goose Up
-- Which node runs which watch room (scale-out): a lease renewed every
-- second by its node; an expired lease may be taken by another node.
CREATE TABLE watch_leases (
    name_key    TEXT PRIMARY KEY,
    node_id     TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX watch_leases_node ON watch_leases(node_id);

-- +goose Down
DROP TABLE watch_leases;
