-- +goose Up
-- Owncast custom emoji uploaded through the admin API, kept in the database
-- so that every node of a cluster lists and serves them (files put in a
-- node's emoji/ directory by hand stay that node's). code is the lower-case
-- shortcode: one emoji per shortcode, whatever its file's extension.
CREATE TABLE stage_emoji (
    file       TEXT PRIMARY KEY,
    code       TEXT NOT NULL UNIQUE,
    data       BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE stage_emoji;
