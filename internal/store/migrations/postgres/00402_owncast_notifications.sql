-- +goose Up
-- Go-live notification registrations (Owncast's notifications table): a
-- channel (BROWSER_PUSH_NOTIFICATION) and its destination (a browser push
-- subscription, JSON). A destination is registered once per channel.
CREATE TABLE owncast_notifications (
    id          TEXT PRIMARY KEY,
    channel     TEXT NOT NULL,
    destination TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (channel, destination)
);

-- +goose Down
DROP TABLE owncast_notifications;
