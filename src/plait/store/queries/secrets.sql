-- Named queries of plait.store.secrets, the same in both dialects. Each block starts with
-- "-- name: NAME"; a dialect's queries/secrets.sql replaces a query of the same name.
-- A secret's value is only ever read sealed; listings do not read it at all.

-- name: secret_meta
SELECT org, name, created_at, updated_at FROM secrets WHERE org = :org AND name = :name;

-- name: upsert_secret
INSERT INTO secrets (org, name, sealed, created_at, updated_at)
VALUES (:org, :name, :sealed, :now, :now)
ON CONFLICT (org, name) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at
RETURNING org, name, created_at, updated_at;

-- name: sealed_secret
SELECT sealed FROM secrets WHERE org = :org AND name = :name;

-- name: delete_secret
DELETE FROM secrets WHERE org = :org AND name = :name;

-- name: reseal_secret
UPDATE secrets SET sealed = :sealed WHERE org = :org AND name = :name AND sealed = :old;
