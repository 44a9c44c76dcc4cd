-- Step-result caching (docs/flow-control.md, "Step-result caching"). One row per cached step
-- output of an organization: `scope` is the workflow and step (`{workflow}/{step}`) or a
-- namespace the step names; `key_hash` the SHA-256 of the step's cache key, `key` the key as
-- written (cut to 200 characters, to show). A run whose step finds a live row (`expires_at` in
-- the future) records the row's output without calling the step; a step that succeeds writes
-- (upserts) its row. Expired rows are ignored, and pruned a batch at a time by the worker.
-- `workflow` is the workflow that wrote the row (clearing a workflow's cache deletes them).
CREATE TABLE step_cache (
    org        TEXT NOT NULL,
    scope      TEXT NOT NULL,
    key_hash   TEXT NOT NULL,
    key        TEXT NOT NULL,
    workflow   TEXT NOT NULL,
    step       TEXT NOT NULL,
    output     BYTEA NOT NULL,
    run_id     TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    hits       BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (org, scope, key_hash)
);
CREATE INDEX step_cache_workflow ON step_cache (org, workflow);
CREATE INDEX step_cache_expiry ON step_cache (expires_at);

-- TRUE on a step whose output came from the cache (its action was not called).
ALTER TABLE steps ADD COLUMN cached BOOLEAN NOT NULL DEFAULT FALSE;
