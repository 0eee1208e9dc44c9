-- +goose Up
-- Accounts linked to an outside sign-in (provider 'discord', subject the
-- Discord user id): one account per subject, one subject per account and
-- provider.
CREATE TABLE account_links (
    provider   TEXT NOT NULL,
    subject    TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE UNIQUE INDEX account_links_account ON account_links(account_id, provider);

-- +goose Down
DROP TABLE account_links;
