-- Named queries of plait.store.business_metrics both dialects run. A window is
-- [:since, :until] of recorded_at (measurements) or created_at (runs); `CAST(:x AS TEXT)` lets
-- PostgreSQL type an absent filter.

-- name: insert_run_metric
-- Written with its record in the run's history: a record written again (a resumed run records
-- the steps after its failure anew) replaces the measurement.
INSERT INTO run_metrics (run_id, key, position, org, workflow, name, value, labels, recorded_at)
VALUES (:run_id, :key, :position, :org, :workflow, :name, :value, :labels, :recorded_at)
ON CONFLICT (run_id, key) DO UPDATE SET position = excluded.position, name = excluded.name,
    value = excluded.value, labels = excluded.labels, recorded_at = excluded.recorded_at;

-- name: delete_unrecorded_run_metrics
-- The measurements whose record a resume deleted from the run's history (it records them anew).
DELETE FROM run_metrics
WHERE run_id = :run_id
  AND key NOT IN (SELECT key FROM steps WHERE run_id = :run_id AND kind = 'metric');

-- name: metrics_of_run
SELECT key, name, value, labels, recorded_at FROM run_metrics
WHERE run_id = :run_id ORDER BY recorded_at, position, key;

-- name: count_metric_values
SELECT COUNT(*) FROM run_metrics
WHERE org = :org AND workflow = :workflow AND recorded_at >= :since AND recorded_at <= :until
  AND (CAST(:name AS TEXT) IS NULL OR name = :name);

-- name: metric_values
-- Ordered by group and value: the caller interpolates the percentiles of each group.
SELECT name, CASE WHEN :by_labels = 1 THEN labels ELSE '{}' END AS grouped, value
FROM run_metrics
WHERE org = :org AND workflow = :workflow AND recorded_at >= :since AND recorded_at <= :until
  AND (CAST(:name AS TEXT) IS NULL OR name = :name)
ORDER BY name, grouped, value;

-- name: run_outcomes
SELECT COALESCE(outcome, status), COUNT(*) FROM runs
WHERE org = :org AND workflow = :workflow AND created_at >= :since AND created_at <= :until
GROUP BY COALESCE(outcome, status);

-- name: count_ended_runs
SELECT COUNT(*) FROM runs
WHERE org = :org AND workflow = :workflow AND created_at >= :since AND created_at <= :until
  AND finished_at IS NOT NULL;

-- name: run_duration_values
SELECT finished_at - created_at AS seconds FROM runs
WHERE org = :org AND workflow = :workflow AND created_at >= :since AND created_at <= :until
  AND finished_at IS NOT NULL
ORDER BY seconds;

-- name: step_failures
-- Steps that failed for good (a failed attempt to be retried is `retrying`), by name.
SELECT s.name, COUNT(*) FROM runs r JOIN steps s ON s.run_id = r.id
WHERE r.org = :org AND r.workflow = :workflow AND r.created_at >= :since
  AND r.created_at <= :until AND s.status = 'failed' AND s.kind IN ('step', 'task')
GROUP BY s.name ORDER BY COUNT(*) DESC, s.name;

-- name: step_retries
SELECT COALESCE(SUM(s.attempts - 1), 0) FROM runs r JOIN steps s ON s.run_id = r.id
WHERE r.org = :org AND r.workflow = :workflow AND r.created_at >= :since
  AND r.created_at <= :until AND s.kind = 'step' AND s.attempts > 1;

-- name: live_runs_of_workflow
SELECT status, COUNT(*) FROM runs
WHERE status IN ('pending', 'running', 'waiting') AND org = :org AND workflow = :workflow
GROUP BY status;

-- name: last_run_of_workflow
SELECT id, status, outcome, created_at, finished_at FROM runs
WHERE org = :org AND workflow = :workflow ORDER BY created_at DESC, id DESC LIMIT 1;
