-- Named queries of plait.store.idempotency, the same in both dialects. Each block starts with
-- "-- name: NAME"; a dialect's queries/idempotency.sql replaces a query of the same name.

-- name: reserve_idempotency_key
-- Changes one row when the key is new, when its row has expired, or when its reservation was
-- abandoned (no result recorded since :stale_before) by a request with the same fingerprint;
-- none when a live row holds it. Of concurrent reservations of one key exactly one changes it.
INSERT INTO idempotency_keys (org, key, operation, fingerprint, token, result, locked_at,
                              expires_at)
VALUES (:org, :key, :operation, :fingerprint, :token, NULL, :now, :expires_at)
ON CONFLICT (org, key) DO UPDATE
SET operation = excluded.operation, fingerprint = excluded.fingerprint, token = excluded.token,
    result = NULL, locked_at = excluded.locked_at, expires_at = excluded.expires_at
WHERE idempotency_keys.expires_at <= :now
   OR (idempotency_keys.result IS NULL AND idempotency_keys.locked_at <= :stale_before
       AND idempotency_keys.fingerprint = excluded.fingerprint);

-- name: get_idempotency_key
SELECT org, key, operation, fingerprint, token, result, locked_at, expires_at
FROM idempotency_keys WHERE org = :org AND key = :key;

-- name: complete_idempotency_key
UPDATE idempotency_keys SET result = :result
WHERE org = :org AND key = :key AND token = :token;

-- name: release_idempotency_key
DELETE FROM idempotency_keys
WHERE org = :org AND key = :key AND token = :token AND result IS NULL;

-- name: prune_idempotency_keys
-- A few expired keys at a time: each reservation pays for a bounded cleanup.
DELETE FROM idempotency_keys
WHERE (org, key) IN (
    SELECT org, key FROM idempotency_keys WHERE expires_at <= :now LIMIT :limit
);
