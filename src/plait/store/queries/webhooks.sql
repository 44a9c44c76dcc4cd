-- Named queries of plait.store.webhooks, the same in both dialects. Each block starts with
-- "-- name: NAME"; a dialect's queries/webhooks.sql replaces a query of the same name.
-- A webhook is addressed by id or by name: names cannot start with "webhook_", which ids do, so
-- `id = :key OR name = :key` matches at most one row.

-- name: insert_webhook
-- A name already taken in the organization inserts nothing (the verb raises WebhookExists).
INSERT INTO webhooks (org, id, name, scheme, secret, event_type, mapping, created_at, sealed)
VALUES (:org, :id, :name, :scheme, :secret, :event_type, :mapping, :created_at, :sealed)
ON CONFLICT (org, name) DO NOTHING;

-- name: get_webhook
SELECT id, org, name, scheme, secret, event_type, mapping, created_at, sealed
FROM webhooks
WHERE org = :org AND (id = :key OR name = :key);

-- name: delete_webhook
DELETE FROM webhooks WHERE org = :org AND (id = :key OR name = :key);

-- name: webhook_secrets
-- The stored secrets, sealed or not, for sealing or re-sealing them all in one transaction.
SELECT org, id, secret FROM webhooks WHERE sealed = :sealed ORDER BY org, id;

-- name: set_webhook_secret
UPDATE webhooks SET secret = :secret, sealed = :sealed
WHERE org = :org AND id = :id AND sealed = :was_sealed;

-- name: claim_webhook_delivery
-- Changes one row when the digest is new or its row has expired (the delivery is accepted), none
-- when a live row holds it (a replay). Of concurrent claims of one digest exactly one changes it.
INSERT INTO webhook_deliveries (org, digest, event_id, expires_at)
VALUES (:org, :digest, :event_id, :expires_at)
ON CONFLICT (org, digest) DO UPDATE
SET event_id = excluded.event_id, expires_at = excluded.expires_at
WHERE webhook_deliveries.expires_at <= :now;

-- name: webhook_delivery_event
SELECT event_id FROM webhook_deliveries WHERE org = :org AND digest = :digest;
