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
    output     BLOB NOT NULL,
    run_id     TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    hits       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (org, scope, key_hash)
);
CREATE INDEX step_cache_workflow ON step_cache (org, workflow);
CREATE INDEX step_cache_expiry ON step_cache (expires_at);

-- 1 on a step whose output came from the cache (its action was not called).
ALTER TABLE steps ADD COLUMN cached INTEGER NOT NULL DEFAULT 0;
