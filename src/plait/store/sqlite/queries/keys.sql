-- The SQLite text of the named queries of plait.store.keys that differ between the
-- dialects (the others are shared: plait/store/queries/keys.sql). Each block starts with
-- "-- name: NAME".

-- name: keys_of_org
SELECT org, id, role, prefix, hash, created_at, revoked_at, user_name FROM api_keys
WHERE org = :org
ORDER BY created_at, id;

-- name: revoke_key
UPDATE api_keys SET revoked_at = COALESCE(revoked_at, :now)
WHERE org = :org AND id = :id
RETURNING org, id, role, prefix, hash, created_at, revoked_at, user_name;
