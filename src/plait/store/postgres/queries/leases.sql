-- The PostgreSQL text of the named queries of plait.store.leases that differ between the
-- dialects (the others are shared: plait/store/queries/leases.sql). Each block starts with
-- "-- name: NAME".

-- name: claim_runs
-- Rows locked by another claim are skipped, so concurrent workers claim disjoint runs. The
-- claimed runs come back in claim order (higher priority first, then the order they fell
-- due), each with when it became runnable (a pending run's updated_at, set when it was created
-- or made pending; a waiting run's wake time or, if later, when it suspended; an expired
-- lease's expiry) and whether its lease had expired. A run with a concurrency key that holds
-- no slot yet is locked but not leased: it comes back with `held` and no input, and the claim
-- leases it (claim_ids) only if it gets a slot of its key (plait.store.concurrency). Runs
-- parked over their key's limit (slot_wait) are not looked at.
WITH due AS (
    SELECT id, priority, concurrency_key, concurrency_limit, org, workflow,
           CASE status WHEN 'pending' THEN created_at WHEN 'waiting' THEN wake_at
                ELSE lease_expires_at END AS due_at,
           CASE status WHEN 'pending' THEN updated_at
                WHEN 'waiting' THEN GREATEST(wake_at, updated_at)
                ELSE lease_expires_at END AS ready_at,
           status = 'running' AS reclaimed
    FROM runs
    WHERE ((status = 'pending' AND slot_wait = 0)
           OR (status = 'waiting' AND slot_wait = 0 AND wake_at <= CAST(:now AS DOUBLE PRECISION))
           OR (status = 'running' AND lease_expires_at <= CAST(:now AS DOUBLE PRECISION)))
      AND (workflow IN (SELECT jsonb_array_elements_text(CAST(:workflows AS JSONB)))
           OR workflow_version IS NOT NULL)
    ORDER BY priority DESC, due_at
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE runs
    SET status = 'running', lease_owner = :owner, lease_expires_at = :lease_until,
        fence = runs.fence + 1, executions = runs.executions + 1, wake_at = NULL,
        started_at = COALESCE(runs.started_at, CAST(:now AS DOUBLE PRECISION)), updated_at = :now
    FROM due
    WHERE runs.id = due.id AND (due.concurrency_key IS NULL OR due.reclaimed)
    RETURNING runs.id, runs.workflow, runs.input, runs.fence, runs.created_at, runs.deadline_at,
              runs.org, runs.workflow_id, runs.workflow_version, runs.trace_context, due.due_at,
              due.ready_at, due.reclaimed, due.priority
)
SELECT * FROM (
SELECT id, workflow, input, fence, created_at, deadline_at, org, workflow_id, workflow_version,
       trace_context, ready_at, reclaimed, FALSE AS held, CAST(NULL AS TEXT) AS concurrency_key,
       CAST(NULL AS INTEGER) AS concurrency_limit, priority, due_at
FROM claimed
UNION ALL
SELECT id, workflow, NULL, NULL, NULL, NULL, org, NULL, NULL, NULL, ready_at, reclaimed,
       TRUE, concurrency_key, concurrency_limit, priority, due_at
FROM due
WHERE concurrency_key IS NOT NULL AND NOT reclaimed
) AS chosen
ORDER BY priority DESC, due_at, id COLLATE "C";

-- name: upsert_step
-- Fenced. Writes only while the run is running under the caller fence (else no row changes).
-- FOR SHARE holds the run row until commit, so a concurrent claim or cancel (which bumps the
-- fence) cannot slip in between the check and the write. A check that waits on such a change
-- re-reads the row and sees the new fence.
INSERT INTO steps (run_id, key, position, name, kind, status, attempts, output, error,
                   started_at, finished_at, wake_at)
SELECT CAST(:run_id AS TEXT), CAST(:key AS TEXT), CAST(:position AS BIGINT),
       CAST(:name AS TEXT), CAST(:kind AS TEXT), CAST(:status AS TEXT),
       CAST(:attempts AS BIGINT), CAST(:output AS BYTEA), CAST(:error AS BYTEA),
       CAST(:started_at AS DOUBLE PRECISION), CAST(:finished_at AS DOUBLE PRECISION),
       CAST(:wake_at AS DOUBLE PRECISION)
WHERE EXISTS (
    SELECT 1 FROM runs WHERE id = :run_id AND fence = :fence AND status = 'running' FOR SHARE
)
ON CONFLICT (run_id, key) DO UPDATE SET
    status = excluded.status, attempts = excluded.attempts, output = excluded.output,
    error = excluded.error, finished_at = excluded.finished_at, wake_at = excluded.wake_at;

-- name: suspend_run
-- An event that resolved a wait while the run was still running left an earlier wake_at.
UPDATE runs
SET status = 'waiting',
    wake_at = CASE WHEN wake_at IS NOT NULL
                        AND (CAST(:wake_at AS DOUBLE PRECISION) IS NULL OR wake_at < :wake_at)
                   THEN wake_at ELSE CAST(:wake_at AS DOUBLE PRECISION) END,
    lease_owner = NULL, lease_expires_at = NULL, updated_at = :now
WHERE id = :run_id AND fence = :fence AND status = 'running';

-- name: next_wake_at
-- Timers and schedule ticks. Expired leases are found by the regular poll of the worker.
SELECT LEAST(
  (SELECT MIN(wake_at) FROM runs
   WHERE status = 'waiting' AND slot_wait = 0 AND wake_at IS NOT NULL
     AND (workflow IN (SELECT jsonb_array_elements_text(CAST(:workflows AS JSONB)))
          OR workflow_version IS NOT NULL)),
  (SELECT MIN(next_fire_at) FROM schedules WHERE enabled));

-- name: extend_leases
-- Only runs the worker is still executing: one it abandoned lets its lease run out.
UPDATE runs SET lease_expires_at = :lease_until
WHERE lease_owner = :worker_id AND status = 'running'
  AND id IN (SELECT jsonb_array_elements_text(CAST(:run_ids AS JSONB)))
RETURNING id;
