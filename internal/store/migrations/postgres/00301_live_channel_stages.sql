-- +goose Up
-- A community stage channel is backed by the stage with its own id; an
-- instance admin may instead bind it to another stage (the default one,
-- Owncast's stream). This table holds those bindings only.
CREATE TABLE live_channel_stages (
    channel_id TEXT PRIMARY KEY,
    stage_id   TEXT NOT NULL REFERENCES live_stages(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);
CREATE INDEX live_channel_stages_stage ON live_channel_stages(stage_id);

-- +goose Down
DROP TABLE live_channel_stages;
