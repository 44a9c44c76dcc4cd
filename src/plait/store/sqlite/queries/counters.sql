-- The SQLite text of the named queries of plait.store.counters that differ between the
-- dialects (the others are shared: plait/store/queries/counters.sql). Each block starts with
-- "-- name: NAME".

-- name: add_workflow_counts
UPDATE workflows
SET running = MAX(running + :running, 0),
    run_count = run_count + :runs,
    success_count = success_count + :succeeded,
    failure_count = failure_count + :failed,
    last_run_at = COALESCE(:last_run_at, last_run_at)
WHERE org = :org AND id = :workflow_id;
