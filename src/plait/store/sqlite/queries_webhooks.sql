-- Named queries of the webhooks area (plait.store.sqlite.webhooks).
-- A webhook is addressed by id or by name: names cannot start with "webhook_", which ids do, so
-- `id = :key OR name = :key` matches at most one row.

-- name: insert_webhook
-- A name already taken in the organization inserts nothing (the verb raises WebhookExists).
INSERT INTO webhooks (org, id, name, scheme, secret, event_type, mapping, created_at)
VALUES (:org, :id, :name, :scheme, :secret, :event_type, :mapping, :created_at)
ON CONFLICT (org, name) DO NOTHING;

-- name: get_webhook
SELECT id, org, name, scheme, secret, event_type, mapping, created_at
FROM webhooks
WHERE org = :org AND (id = :key OR name = :key);

-- name: list_webhooks
SELECT id, org, name, scheme, secret, event_type, mapping, created_at
FROM webhooks
WHERE org = :org
ORDER BY name;

-- name: delete_webhook
DELETE FROM webhooks WHERE org = :org AND (id = :key OR name = :key);
