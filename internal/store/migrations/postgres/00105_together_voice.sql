-- +goose Up
-- Together voice states (one voice channel per account), shared by nodes.
CREATE TABLE together_voice_states (
    account_id   TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    channel_id   TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    community_id TEXT NOT NULL,
    username     TEXT NOT NULL,
    self_mute    BOOLEAN NOT NULL DEFAULT FALSE,
    self_deaf    BOOLEAN NOT NULL DEFAULT FALSE,
    self_video   BOOLEAN NOT NULL DEFAULT FALSE,
    self_screen  BOOLEAN NOT NULL DEFAULT FALSE,
    server_mute  BOOLEAN NOT NULL DEFAULT FALSE,
    server_deaf  BOOLEAN NOT NULL DEFAULT FALSE,
    joined_at    BIGINT NOT NULL
);
CREATE INDEX together_voice_states_channel ON together_voice_states(channel_id);

-- +goose Down
DROP TABLE together_voice_states;
