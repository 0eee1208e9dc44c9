-- +goose Up
-- Which node runs which voice channel's SFU room (scale-out): a lease
-- claimed by the node every second while the room has participants; an
-- expired lease (its node died) may be taken by another node.
CREATE TABLE voice_leases (
    channel_id  TEXT PRIMARY KEY,
    node_id     TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);

-- +goose Down
DROP TABLE voice_leases;
