-- Named queries of the SQLite store. Each block starts with "-- name: NAME".

-- name: insert_run
INSERT INTO runs (id, org, workflow, status, input, trigger, created_at, started_at, updated_at,
                  deadline_at, lease_owner, lease_expires_at, fence, executions, workflow_id,
                  workflow_version, event_id)
VALUES (:id, :org, :workflow, :status, :input, :trigger, :created_at, :started_at, :created_at,
        :deadline_at, :owner, :lease_until, :fence, :executions, :workflow_id,
        :workflow_version, :event_id)
ON CONFLICT (id) DO NOTHING;

-- name: claim_runs
UPDATE runs
SET status = 'running', lease_owner = :owner, lease_expires_at = :lease_until,
    fence = fence + 1, executions = executions + 1, wake_at = NULL,
    started_at = COALESCE(started_at, :now), updated_at = :now
WHERE id IN (
    SELECT id FROM (
        SELECT id, workflow, workflow_version, created_at AS due FROM runs
        WHERE status = 'pending'
        UNION ALL
        SELECT id, workflow, workflow_version, wake_at FROM runs
        WHERE status = 'waiting' AND wake_at <= :now
        UNION ALL
        SELECT id, workflow, workflow_version, lease_expires_at FROM runs
        WHERE status = 'running' AND lease_expires_at <= :now
    ) AS due_runs
    WHERE workflow IN (SELECT value FROM json_each(:workflows)) OR workflow_version IS NOT NULL
    ORDER BY due
    LIMIT :limit
)
RETURNING id, workflow, input, fence, created_at, deadline_at, org, workflow_id, workflow_version;

-- name: steps_of_runs
SELECT run_id, key, position, name, kind, status, attempts, output, error,
       started_at, finished_at, wake_at
FROM steps WHERE run_id IN (SELECT value FROM json_each(:run_ids))
ORDER BY run_id, position;

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

-- name: finish_run
UPDATE runs
SET status = :status, output = :output, error = :error, finished_at = :now, updated_at = :now,
    lease_owner = NULL, lease_expires_at = NULL, wake_at = NULL
WHERE id = :run_id AND fence = :fence AND status = 'running';

-- name: release_run
UPDATE runs
SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL, updated_at = :now
WHERE id = :run_id AND lease_owner = :owner AND status = 'running';

-- name: cancel_run
UPDATE runs
SET status = 'cancelled', fence = fence + 1, lease_owner = NULL, lease_expires_at = NULL,
    wake_at = NULL, finished_at = :now, updated_at = :now, error = :error
WHERE id = :run_id AND status NOT IN ('succeeded', 'failed', 'cancelled');

-- name: live_children
SELECT id FROM runs
WHERE parent_run_id = :run_id AND status NOT IN ('succeeded', 'failed', 'cancelled');

-- name: run_state
SELECT status, fence FROM runs WHERE id = :run_id;

-- name: get_run
SELECT id, org, workflow, status, input, output, error, trigger, created_at, started_at,
       finished_at, updated_at, wake_at, deadline_at, lease_owner, lease_expires_at, fence,
       executions, workflow_id, workflow_version, event_id, parent_run_id, parent_step
FROM runs WHERE id = :run_id;

-- name: list_runs
SELECT id, org, workflow, status, input, output, error, trigger, created_at, started_at,
       finished_at, updated_at, wake_at, deadline_at, lease_owner, lease_expires_at, fence,
       executions, workflow_id, workflow_version, event_id, parent_run_id, parent_step
FROM runs
WHERE (:workflow IS NULL OR workflow = :workflow) AND (:status IS NULL OR status = :status)
  AND (:org IS NULL OR org = :org)
ORDER BY created_at DESC, id DESC
LIMIT :limit;

-- name: next_wake_at
-- Timers and schedule ticks: expired leases are found by the worker's regular poll.
SELECT MIN(due) FROM (
  SELECT MIN(wake_at) AS due FROM runs
  WHERE status = 'waiting' AND wake_at IS NOT NULL
    AND (workflow IN (SELECT value FROM json_each(:workflows)) OR workflow_version IS NOT NULL)
  UNION ALL
  SELECT MIN(next_fire_at) FROM schedules WHERE enabled = 1
);

-- name: register_worker
INSERT INTO workers (id, host, pid, started_at, heartbeat_at)
VALUES (:id, :host, :pid, :started_at, :heartbeat_at)
ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at;

-- name: worker_heartbeat
UPDATE workers SET heartbeat_at = :now WHERE id = :worker_id;

-- name: extend_leases
-- Only runs the worker is still executing: one it abandoned lets its lease run out.
UPDATE runs SET lease_expires_at = :lease_until
WHERE lease_owner = :worker_id AND status = 'running'
  AND id IN (SELECT value FROM json_each(:run_ids))
RETURNING id;

-- name: list_workers
SELECT id, host, pid, started_at, heartbeat_at FROM workers ORDER BY started_at;

-- name: release_worker_runs
UPDATE runs
SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL, updated_at = :now
WHERE lease_owner = :worker_id AND status = 'running';

-- name: delete_worker
DELETE FROM workers WHERE id = :worker_id;

-- name: insert_event
INSERT INTO events (org, id, type, data, source, run_id, created_at)
VALUES (:org, :id, :type, :data, :source, :run_id, :now)
ON CONFLICT (org, id) DO NOTHING;

-- name: get_event
SELECT id, org, type, data, source, run_id, created_at FROM events WHERE org = :org AND id = :id;

-- name: event_exists
SELECT 1 FROM events WHERE org = :org AND id = :id;

-- name: list_events
SELECT id, org, type, data, source, run_id, created_at FROM events
WHERE org = :org AND (:type IS NULL OR type = :type)
ORDER BY seq DESC
LIMIT :limit;

-- name: insert_document
-- A second insert under one idempotency key changes nothing (the caller then reads the first).
INSERT INTO documents (org, noun, id, data, created_at, updated_at, version, idempotency_key)
VALUES (:org, :noun, :id, :data, :now, :now, 1, :idempotency_key)
ON CONFLICT (org, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING;

-- name: document_by_idempotency_key
SELECT org, noun, id, data, created_at, updated_at, version FROM documents
WHERE org = :org AND idempotency_key = :idempotency_key;

-- name: get_document
SELECT org, noun, id, data, created_at, updated_at, version FROM documents
WHERE org = :org AND noun = :noun AND id = :id;

-- name: update_document
UPDATE documents SET data = :data, updated_at = :now, version = version + 1
WHERE org = :org AND noun = :noun AND id = :id
RETURNING org, noun, id, data, created_at, updated_at, version;

-- name: delete_document
DELETE FROM documents WHERE org = :org AND noun = :noun AND id = :id;

-- name: find_documents
-- :where is a JSON object of field -> value. A document matches when no entry of it differs:
-- values compare as SQL values (so 1 = 1.0), and being a boolean must agree on both sides
-- (json_extract gives 1 for true). :sort is a field name or NULL, :descending 0 or 1.
SELECT org, noun, id, data, created_at, updated_at, version FROM (
    SELECT d.*, d.rowid AS seq,
           CASE :sort
               WHEN 'createdAt' THEN d.created_at
               WHEN 'updatedAt' THEN d.updated_at
               WHEN '$id' THEN d.id
               ELSE json_extract(d.data, '$."' || :sort || '"')
           END AS sort_key
    FROM documents AS d
    WHERE d.org = :org AND d.noun = :noun AND NOT EXISTS (
        SELECT 1 FROM json_each(:where) AS w
        WHERE json_extract(d.data, '$."' || w.key || '"') IS NOT w.value
           OR (COALESCE(json_type(d.data, '$."' || w.key || '"'), 'null') IN ('true', 'false'))
              != (w.type IN ('true', 'false'))
    )
)
ORDER BY CASE WHEN :descending THEN sort_key END DESC,
         CASE WHEN NOT :descending THEN sort_key END,
         created_at, seq
LIMIT :limit;
