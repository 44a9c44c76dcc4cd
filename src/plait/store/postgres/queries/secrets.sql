-- The PostgreSQL text of the named queries of plait.store.secrets that differ between the
-- dialects (the others are shared: plait/store/queries/secrets.sql). Each block starts with
-- "-- name: NAME".

-- name: sealed_secrets_of_org
SELECT name, sealed FROM secrets WHERE org = :org ORDER BY name COLLATE "C";

-- name: secrets_of_org
SELECT org, name, created_at, updated_at FROM secrets WHERE org = :org ORDER BY name COLLATE "C";

-- name: every_sealed_secret
SELECT org, name, sealed FROM secrets ORDER BY org COLLATE "C", name COLLATE "C";
