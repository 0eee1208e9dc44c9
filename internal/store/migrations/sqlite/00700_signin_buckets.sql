-- +goose Up
-- The sign-in limiter's buckets, shared by every node (identity's
-- SignInBudget): one row per account or client address, holding the
-- instant (microseconds) at which its bucket would be full again. A row
-- whose tat has passed is a full bucket and may be deleted.
CREATE TABLE signin_buckets (
    key TEXT PRIMARY KEY,
    tat BIGINT NOT NULL
);
CREATE INDEX signin_buckets_tat ON signin_buckets(tat);

-- +goose Down
DROP TABLE signin_buckets;
