-- +goose Up
-- Remote actors a local actor follows (Owncast 0.2's "featured streams"),
-- with the latest public post received from each.
CREATE TABLE federation_following (
    id           TEXT PRIMARY KEY,
    actor        TEXT NOT NULL,
    iri          TEXT NOT NULL,
    inbox        TEXT NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    username     TEXT NOT NULL DEFAULT '',
    image        TEXT NOT NULL DEFAULT '',
    follow_iri   TEXT NOT NULL,
    accepted_at  BIGINT,
    post_iri     TEXT NOT NULL DEFAULT '',
    post_text    TEXT NOT NULL DEFAULT '',
    post_url     TEXT NOT NULL DEFAULT '',
    post_preview TEXT NOT NULL DEFAULT '',
    post_at      BIGINT,
    live_at      BIGINT,
    created_at   BIGINT NOT NULL,
    UNIQUE (actor, iri)
);

-- +goose Down
DROP TABLE federation_following;
