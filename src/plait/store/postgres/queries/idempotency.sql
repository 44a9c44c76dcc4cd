-- The PostgreSQL text of the named queries of plait.store.idempotency that differ between the
-- dialects (the others are shared: plait/store/queries/idempotency.sql). Each block starts with
-- "-- name: NAME".

-- name: prune_idempotency_keys
-- A few expired keys at a time: each reservation pays for a bounded cleanup; rows another
-- transaction is pruning (or reserving again) are skipped rather than waited for.
DELETE FROM idempotency_keys
WHERE (org, key) IN (
    SELECT org, key FROM idempotency_keys WHERE expires_at <= :now LIMIT :limit
    FOR UPDATE SKIP LOCKED
);
