-- Named queries of plait.store.step_cache (step-result caching, migration 028), the same in
-- both dialects but for pruning (PostgreSQL skips rows another worker is pruning).

-- name: step_cache_get
-- The live entry of a key: one read by the primary key.
SELECT output, run_id FROM step_cache
WHERE org = :org AND scope = :scope AND key_hash = :key_hash AND expires_at > :now;

-- name: step_cache_put
-- Insert or replace the entry (of two concurrent misses, the later commit's output stays).
INSERT INTO step_cache (org, scope, key_hash, key, workflow, step, output, run_id, created_at,
                        expires_at, hits)
VALUES (:org, :scope, :key_hash, :key, :workflow, :step, :output, :run_id, :now, :expires_at, 0)
ON CONFLICT (org, scope, key_hash) DO UPDATE SET
    key = excluded.key, workflow = excluded.workflow, step = excluded.step,
    output = excluded.output, run_id = excluded.run_id, created_at = excluded.created_at,
    expires_at = excluded.expires_at, hits = 0;

-- name: step_cache_hit
UPDATE step_cache SET hits = hits + 1
WHERE org = :org AND scope = :scope AND key_hash = :key_hash;

-- name: mark_step_cached
-- Written in the transaction that records the step a cache hit completed.
UPDATE steps SET cached = :cached WHERE run_id = :run_id AND key = :key;

-- name: step_cache_list
-- The live entries of an organization (of one workflow, of one scope), newest first.
SELECT scope, key, workflow, step, run_id, created_at, expires_at, hits FROM step_cache
WHERE org = :org AND expires_at > :now
  AND (CAST(:workflow AS TEXT) IS NULL OR workflow = :workflow)
  AND (CAST(:scope AS TEXT) IS NULL OR scope = :scope)
ORDER BY created_at DESC, scope, key_hash
LIMIT :limit;

-- name: step_cache_clear
-- Every entry, live or expired, of an organization's workflow and/or scope.
DELETE FROM step_cache
WHERE org = :org
  AND (CAST(:workflow AS TEXT) IS NULL OR workflow = :workflow)
  AND (CAST(:scope AS TEXT) IS NULL OR scope = :scope);

-- name: step_cache_prune
-- A batch of expired entries of any organization.
DELETE FROM step_cache
WHERE (org, scope, key_hash) IN (
    SELECT org, scope, key_hash FROM step_cache WHERE expires_at <= :now LIMIT :limit
);
