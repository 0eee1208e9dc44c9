-- +goose Up
-- ActivityPub federation (Owncast's ap_* tables, plus a durable delivery
-- queue). "actor" is the local actor's username: the server's Service
-- actor, or a stage channel's actor.

-- The one signing keypair every node shares (Owncast keeps it in its
-- datastore). id is always 1; the first node to start inserts it.
CREATE TABLE federation_keys (
    id          INTEGER PRIMARY KEY,
    private_pem TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE federation_followers (
    actor        TEXT NOT NULL,
    iri          TEXT NOT NULL,
    inbox        TEXT NOT NULL,
    shared_inbox TEXT NOT NULL DEFAULT '',
    name         TEXT NOT NULL DEFAULT '',
    username     TEXT NOT NULL DEFAULT '',
    image        TEXT NOT NULL DEFAULT '',
    request_iri  TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    approved_at  BIGINT,
    disabled_at  BIGINT,
    PRIMARY KEY (actor, iri)
);

CREATE TABLE federation_outbox (
    id         TEXT PRIMARY KEY,
    actor      TEXT NOT NULL,
    type       TEXT NOT NULL,
    value      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX federation_outbox_actor ON federation_outbox(actor, created_at);

-- Inbound engagement: Follow, Like, Announce (Owncast's ap_accepted_activities).
CREATE TABLE federation_actions (
    iri        TEXT PRIMARY KEY,
    actor      TEXT NOT NULL,
    actor_iri  TEXT NOT NULL,
    type       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX federation_actions_at ON federation_actions(created_at);

-- Outbound deliveries, one row per (activity, inbox). A node claims a row
-- by moving claimed_until forward, so each is sent by one node at a time.
CREATE TABLE federation_deliveries (
    id            TEXT PRIMARY KEY,
    inbox         TEXT NOT NULL,
    key_id        TEXT NOT NULL,
    body          TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_at       BIGINT NOT NULL,
    claimed_until BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);
CREATE INDEX federation_deliveries_next ON federation_deliveries(next_at);
CREATE INDEX federation_deliveries_inbox ON federation_deliveries(inbox, created_at);

-- Hearth's extra: each stage channel is its own actor unless the instance
-- admin switched it off (no row: on).
CREATE TABLE federation_stage_actors (
    channel_id TEXT PRIMARY KEY,
    enabled    INTEGER NOT NULL,
    updated_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE federation_stage_actors;
DROP TABLE federation_deliveries;
DROP TABLE federation_actions;
DROP TABLE federation_outbox;
DROP TABLE federation_followers;
DROP TABLE federation_keys;
