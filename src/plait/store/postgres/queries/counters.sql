-- The PostgreSQL text of the named queries of plait.store.counters that differ between the
-- dialects (the others are shared: plait/store/queries/counters.sql). Each block starts with
-- "-- name: NAME".

-- name: add_workflow_counts
UPDATE workflows
SET running = GREATEST(running + CAST(:running AS BIGINT), 0),
    run_count = run_count + CAST(:runs AS BIGINT),
    success_count = success_count + CAST(:succeeded AS BIGINT),
    failure_count = failure_count + CAST(:failed AS BIGINT),
    last_run_at = COALESCE(CAST(:last_run_at AS DOUBLE PRECISION), last_run_at)
WHERE org = :org AND id = :workflow_id;
