-- +goose Up
-- A Together webhook's event types are kept once each (webhooks.Hooks
-- drops a name given again); hooks stored before that may repeat one name
-- up to the body cap, which every event of their community read. Rewrite
-- those lists with each name once (a list with no repeat is left as is).
UPDATE together_webhooks
SET event_types = (SELECT json_agg(DISTINCT e)::text FROM json_array_elements_text(together_webhooks.event_types::json) AS e)
WHERE json_array_length(event_types::json) >
      (SELECT count(DISTINCT e) FROM json_array_elements_text(together_webhooks.event_types::json) AS e);

-- +goose Down
SELECT 1;
