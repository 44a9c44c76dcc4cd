-- Named queries of plait.store.keys, the same in both dialects. Each block starts with
-- "-- name: NAME"; a dialect's queries/keys.sql replaces a query of the same name.

-- name: insert_key
INSERT INTO api_keys (org, id, role, prefix, hash, created_at, revoked_at, user_name)
VALUES (:org, :id, :role, :prefix, :hash, :created_at, NULL, :user_name)
ON CONFLICT (id) DO NOTHING;

-- name: key_by_id
SELECT org, id, role, prefix, hash, created_at, revoked_at, user_name FROM api_keys WHERE id = :id;
