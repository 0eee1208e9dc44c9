-- +goose Up
-- Live streaming: stages (Owncast's one stream is the default stage), their
-- stream keys, instance-wide video settings, broadcast history and viewer
-- samples for viewersOverTime.
CREATE TABLE live_stages (
    id                   TEXT PRIMARY KEY,
    name                 TEXT NOT NULL,
    is_default           BOOLEAN NOT NULL DEFAULT FALSE,
    stream_title         TEXT NOT NULL DEFAULT '',
    video_codec          TEXT NOT NULL DEFAULT 'libx264',
    latency_level        INTEGER NOT NULL DEFAULT 2,
    variants             TEXT NOT NULL DEFAULT '[]',
    last_connect_at      BIGINT,
    last_disconnect_at   BIGINT,
    overall_peak_viewers INTEGER NOT NULL DEFAULT 0,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE UNIQUE INDEX live_stages_one_default ON live_stages(is_default) WHERE is_default;

CREATE TABLE live_stream_keys (
    key        TEXT PRIMARY KEY,
    stage_id   TEXT NOT NULL REFERENCES live_stages(id) ON DELETE CASCADE,
    comment    TEXT NOT NULL DEFAULT '',
    position   INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX live_stream_keys_stage ON live_stream_keys(stage_id, position);

CREATE TABLE live_settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE live_broadcasts (
    id           TEXT PRIMARY KEY,
    stage_id     TEXT NOT NULL REFERENCES live_stages(id) ON DELETE CASCADE,
    started_at   BIGINT NOT NULL,
    ended_at     BIGINT,
    peak_viewers INTEGER NOT NULL DEFAULT 0,
    details      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX live_broadcasts_stage ON live_broadcasts(stage_id, started_at);

CREATE TABLE live_viewer_samples (
    stage_id TEXT NOT NULL REFERENCES live_stages(id) ON DELETE CASCADE,
    at       BIGINT NOT NULL,
    viewers  INTEGER NOT NULL,
    PRIMARY KEY (stage_id, at)
);

-- +goose Down
DROP TABLE live_viewer_samples;
DROP TABLE live_broadcasts;
DROP TABLE live_settings;
DROP TABLE live_stream_keys;
DROP TABLE live_stages;
