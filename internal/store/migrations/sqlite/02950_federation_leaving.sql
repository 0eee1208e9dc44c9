-- +goose Up
-- The servers a hidden stage channel actor (its community private, or its
-- actor switched off) sent an Undo of its Follow to, until the Undo's
-- deliveries are over: only those servers' signed fetches get its bare key
-- document, so that they can check the Undo.
CREATE TABLE federation_leaving (
    actor    TEXT NOT NULL,
    host     TEXT NOT NULL,
    until_at BIGINT NOT NULL,
    PRIMARY KEY (actor, host)
);

-- +goose Down
DROP TABLE federation_leaving;
