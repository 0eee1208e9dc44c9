-- +goose Up
-- The clip budget's buckets (recording.Store's TakeClip), one row per
-- account, shared by every node: a clip cut on any node charges the same
-- bucket, so cutting through two nodes does not double an account's clips
-- an hour. Kept as signin_buckets is: the instant (microseconds) at which
-- the bucket would be full again; a row whose tat has passed may be
-- deleted.
CREATE TABLE clip_buckets (
    key TEXT PRIMARY KEY,
    tat BIGINT NOT NULL
);
CREATE INDEX clip_buckets_tat ON clip_buckets(tat);

-- +goose Down
DROP TABLE clip_buckets;
