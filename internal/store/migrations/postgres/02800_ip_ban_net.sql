-- +goose Up
-- The network an Owncast chat IP ban covers (stagechat.BanNet): an IPv6
-- address's /64, an IPv4 address itself; a client is banned when a ban's
-- net is its own. ip stays the address as banned and listed. Made in Go, by
-- the store on each ban and, for the bans already there, by the Go
-- migration that follows (2801).
ALTER TABLE owncast_ip_bans ADD COLUMN net TEXT NOT NULL DEFAULT '';
CREATE INDEX owncast_ip_bans_net ON owncast_ip_bans(net);

-- +goose Down
DROP INDEX owncast_ip_bans_net;
ALTER TABLE owncast_ip_bans DROP COLUMN net;
