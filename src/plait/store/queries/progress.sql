-- Named queries of plait.store.progress, the same in both dialects.

-- name: workflow_step_seconds
-- The mean duration of the steps that completed in the workflow's most recent succeeded runs
-- (runs_by_workflow finds them), and how many steps that mean is of.
SELECT AVG(finished_at - started_at), COUNT(*) FROM steps
WHERE run_id IN (SELECT id FROM runs WHERE workflow = :workflow AND org = :org
                 AND status = 'succeeded' ORDER BY created_at DESC LIMIT :runs)
  AND status = 'completed' AND kind IN ('step', 'sleep', 'wait', 'task', 'receive')
  AND position >= 0 AND started_at IS NOT NULL AND finished_at IS NOT NULL;
