-- +goose Up
-- A Together webhook's event types are kept once each (webhooks.Hooks
-- drops a name given again); hooks stored before that may repeat one name
-- up to the body cap, which every event of their community read. Rewrite
-- those lists with each name once (a list with no repeat is left as is).
UPDATE together_webhooks
SET event_types = (SELECT json_group_array(value) FROM (SELECT DISTINCT value FROM json_each(together_webhooks.event_types)))
WHERE json_array_length(event_types) > (SELECT count(DISTINCT value) FROM json_each(together_webhooks.event_types));

-- +goose Down
SELECT 1;
