-- +goose Up
-- Recordings of broadcasts (package recording). A recording is open while
-- ended_at is NULL; node_id and lease_until say which node writes it and
-- until when, so a node that starts (or any node once the lease expired)
-- closes recordings their writer lost at the last complete segment.
CREATE TABLE recordings (
    id          TEXT PRIMARY KEY,
    stage_id    TEXT NOT NULL,
    title       TEXT NOT NULL DEFAULT '',
    started_at  BIGINT NOT NULL,
    ended_at    BIGINT,
    duration_ms BIGINT NOT NULL DEFAULT 0,
    size_bytes  BIGINT NOT NULL DEFAULT 0,
    pinned      BOOLEAN NOT NULL DEFAULT FALSE,
    node_id     TEXT NOT NULL DEFAULT '',
    lease_until BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX recordings_stage ON recordings(stage_id, started_at);
CREATE INDEX recordings_open ON recordings(ended_at) WHERE ended_at IS NULL;

-- Clips cut from a recording or a live stage.
CREATE TABLE recording_clips (
    id           TEXT PRIMARY KEY,
    stage_id     TEXT NOT NULL,
    recording_id TEXT NOT NULL DEFAULT '',
    title        TEXT NOT NULL DEFAULT '',
    offset_ms    BIGINT NOT NULL,
    duration_ms  BIGINT NOT NULL,
    size_bytes   BIGINT NOT NULL,
    created_by   TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL
);
CREATE INDEX recording_clips_stage ON recording_clips(stage_id, created_at);

-- Per-stage recording settings: enabled NULL follows the instance default;
-- a limit of 0 is no limit.
CREATE TABLE recording_settings (
    stage_id    TEXT PRIMARY KEY,
    enabled     BOOLEAN,
    max_age_s   BIGINT NOT NULL DEFAULT 0,
    max_count   BIGINT NOT NULL DEFAULT 0,
    max_bytes   BIGINT NOT NULL DEFAULT 0
);

-- Periodic jobs run once per cluster: the first node to insert a job's key
-- for a period runs it.
CREATE TABLE recording_job_claims (
    job_key    TEXT PRIMARY KEY,
    claimed_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE recording_job_claims;
DROP TABLE recording_settings;
DROP TABLE recording_clips;
DROP TABLE recordings;
