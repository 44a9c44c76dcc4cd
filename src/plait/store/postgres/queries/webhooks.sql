-- The PostgreSQL text of the named queries of plait.store.webhooks that differ between the
-- dialects (the others are shared: plait/store/queries/webhooks.sql). Each block starts with
-- "-- name: NAME".

-- name: list_webhooks
SELECT id, org, name, scheme, secret, event_type, mapping, created_at, sealed
FROM webhooks
WHERE org = :org
ORDER BY name COLLATE "C";

-- name: prune_webhook_deliveries
-- A few expired replay digests at a time: each delivery pays for a bounded cleanup.
DELETE FROM webhook_deliveries
WHERE (org, digest) IN (
    SELECT org, digest FROM webhook_deliveries WHERE expires_at <= :now LIMIT :limit
    FOR UPDATE SKIP LOCKED
);
