-- Named queries of API keys (PostgreSQL twins). Each block starts with "-- name: NAME".

-- name: insert_key
INSERT INTO api_keys (org, id, role, prefix, hash, created_at, revoked_at, user_name)
VALUES (:org, :id, :role, :prefix, :hash, :created_at, NULL, :user_name)
ON CONFLICT (id) DO NOTHING;

-- name: key_by_id
SELECT org, id, role, prefix, hash, created_at, revoked_at, user_name FROM api_keys WHERE id = :id;

-- name: keys_of_org
SELECT org, id, role, prefix, hash, created_at, revoked_at, user_name FROM api_keys
WHERE org = :org
ORDER BY created_at, id COLLATE "C";

-- name: revoke_key
UPDATE api_keys SET revoked_at = COALESCE(revoked_at, CAST(:now AS DOUBLE PRECISION))
WHERE org = :org AND id = :id
RETURNING org, id, role, prefix, hash, created_at, revoked_at, user_name;
