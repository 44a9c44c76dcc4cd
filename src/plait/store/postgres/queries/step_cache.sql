-- The PostgreSQL text of the named queries of plait.store.step_cache that differ between the
-- dialects (the others are shared: plait/store/queries/step_cache.sql).

-- name: step_cache_prune
-- A batch of expired entries of any organization; rows another worker is pruning are skipped
-- rather than waited for.
DELETE FROM step_cache
WHERE (org, scope, key_hash) IN (
    SELECT org, scope, key_hash FROM step_cache WHERE expires_at <= :now LIMIT :limit
    FOR UPDATE SKIP LOCKED
);
