-- Workflow counters, moved once per workflow at the end of a write transaction
-- (plait/store/areas/counters.py).

-- name: run_workflow_ref
SELECT org, workflow_id FROM runs WHERE id = :run_id;

-- name: add_workflow_counts
UPDATE workflows
SET running = MAX(running + :running, 0),
    run_count = run_count + :runs,
    success_count = success_count + :succeeded,
    failure_count = failure_count + :failed,
    last_run_at = COALESCE(:last_run_at, last_run_at)
WHERE org = :org AND id = :workflow_id;
