-- +goose Up
-- One row per event a node has claimed to deliver (a webhook for a message
-- another surface posted into the stage chat): every node sees the event on
-- the bus, the first to insert its key delivers it. Old rows are pruned.
CREATE TABLE owncast_event_claims (
    event_key  TEXT PRIMARY KEY,
    claimed_at BIGINT NOT NULL
);
CREATE INDEX owncast_event_claims_at ON owncast_event_claims(claimed_at);

-- +goose Down
DROP TABLE owncast_event_claims;
