-- +goose Up
-- Scheduled streams (Owncast 0.2's schedule): the feature's settings (one
-- row, JSON), recurring series, and events (one-off, or one occurrence of a
-- series; series_id '' for one-off).
CREATE TABLE schedule_settings (
    id  INTEGER PRIMARY KEY,
    doc TEXT NOT NULL
);

CREATE TABLE schedule_series (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    description      TEXT NOT NULL,
    recurrence       TEXT NOT NULL,
    timezone         TEXT NOT NULL,
    duration_minutes INTEGER NOT NULL,
    active           BOOLEAN NOT NULL,
    created_at       BIGINT NOT NULL
);

CREATE TABLE schedule_events (
    id               TEXT PRIMARY KEY,
    series_id        TEXT NOT NULL,
    name             TEXT NOT NULL,
    description      TEXT NOT NULL,
    start_at         BIGINT NOT NULL,
    timezone         TEXT NOT NULL,
    duration_minutes INTEGER NOT NULL,
    status           TEXT NOT NULL
);
CREATE INDEX schedule_events_start ON schedule_events (start_at);
-- One occurrence per series and start, even when two nodes expand a series
-- at once (the loser's write fails; the next read tops it up).
CREATE UNIQUE INDEX schedule_events_occurrence ON schedule_events (series_id, start_at) WHERE series_id <> '';

-- +goose Down
DROP TABLE schedule_events;
DROP TABLE schedule_series;
DROP TABLE schedule_settings;
