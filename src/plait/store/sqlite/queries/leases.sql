-- The SQLite text of the named queries of plait.store.leases that differ between the
-- dialects (the others are shared: plait/store/queries/leases.sql). Each block starts with
-- "-- name: NAME".

-- name: runs_due
-- The runs claim_runs then leases, chosen first in the same transaction (SQLite has one writer,
-- so nothing runs in between): SQLite's RETURNING sees only the row as the UPDATE left it, and
-- reading the choice back from a CTE would cost a scan of it per claimed run. Higher priority
-- first, then "due" (the partial indexes' columns); "ready" is when the run became runnable: a
-- pending run's updated_at (set when it was created or made pending), a waiting run's wake time
-- or, if later, when it suspended, an expired lease's expiry. Runs parked over their
-- concurrency key's limit (slot_wait) are skipped; a keyed run that holds no slot yet comes
-- with its key and limit (plait.store.concurrency takes the slot before it is leased).
SELECT id, ready, reclaimed, org, workflow,
       CASE WHEN reclaimed = 0 THEN concurrency_key END, concurrency_limit FROM (
    SELECT id, org, workflow, workflow_version, priority, created_at AS due, updated_at AS ready,
           0 AS reclaimed, concurrency_key, concurrency_limit
    FROM runs WHERE status = 'pending' AND slot_wait = 0
    UNION ALL
    SELECT id, org, workflow, workflow_version, priority, wake_at, MAX(wake_at, updated_at), 0,
           concurrency_key, concurrency_limit FROM runs
    WHERE status = 'waiting' AND slot_wait = 0 AND wake_at <= :now
    UNION ALL
    SELECT id, org, workflow, workflow_version, priority, lease_expires_at, lease_expires_at, 1,
           concurrency_key, concurrency_limit FROM runs
    WHERE status = 'running' AND lease_expires_at <= :now
)
WHERE workflow IN (SELECT value FROM json_each(:workflows)) OR workflow_version IS NOT NULL
ORDER BY priority DESC, due
LIMIT :limit;

-- name: claim_runs
-- Leases the runs runs_due chose (:ids, a JSON array), in the same transaction.
UPDATE runs
SET status = 'running', lease_owner = :owner, lease_expires_at = :lease_until,
    fence = fence + 1, executions = executions + 1, wake_at = NULL,
    started_at = COALESCE(started_at, :now), updated_at = :now
WHERE id IN (SELECT value FROM json_each(:ids))
RETURNING id, workflow, input, fence, created_at, deadline_at, org, workflow_id, workflow_version,
          trace_context;

-- name: upsert_step
-- Fenced: writes only while the run is running under the caller's fence (else no row changes).
INSERT INTO steps (run_id, key, position, name, kind, status, attempts, output, error,
                   started_at, finished_at, wake_at)
SELECT :run_id, :key, :position, :name, :kind, :status, :attempts, :output, :error,
       :started_at, :finished_at, :wake_at
WHERE EXISTS (SELECT 1 FROM runs WHERE id = :run_id AND fence = :fence AND status = 'running')
ON CONFLICT (run_id, key) DO UPDATE SET
    status = excluded.status, attempts = excluded.attempts, output = excluded.output,
    error = excluded.error, finished_at = excluded.finished_at, wake_at = excluded.wake_at;

-- name: suspend_run
-- An event that resolved a wait while the run was still running left an earlier wake_at.
UPDATE runs
SET status = 'waiting',
    wake_at = CASE WHEN wake_at IS NOT NULL AND (:wake_at IS NULL OR wake_at < :wake_at)
                   THEN wake_at ELSE :wake_at END, lease_owner = NULL, lease_expires_at = NULL,
    updated_at = :now
WHERE id = :run_id AND fence = :fence AND status = 'running';

-- name: next_wake_at
-- Timers and schedule ticks: expired leases are found by the worker's regular poll.
SELECT MIN(due) FROM (
  SELECT MIN(wake_at) AS due FROM runs
  WHERE status = 'waiting' AND slot_wait = 0 AND wake_at IS NOT NULL
    AND (workflow IN (SELECT value FROM json_each(:workflows)) OR workflow_version IS NOT NULL)
  UNION ALL
  SELECT MIN(next_fire_at) FROM schedules WHERE enabled = 1
);

-- name: extend_leases
-- Only runs the worker is still executing: one it abandoned lets its lease run out.
UPDATE runs SET lease_expires_at = :lease_until
WHERE lease_owner = :worker_id AND status = 'running'
  AND id IN (SELECT value FROM json_each(:run_ids))
RETURNING id;
