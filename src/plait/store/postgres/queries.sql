-- Named queries of the PostgreSQL store. Each block starts with "-- name: NAME".
-- Twins of the SQLite queries. Same names, named parameters and result columns (in order).
-- A parameter is written as a colon and its name, so the text of this file (comments and string
-- literals too) never puts a colon right before a letter, and casts are CAST(x AS type).
-- Parameters that can be NULL where nothing else fixes their type are cast, since PostgreSQL
-- must know the type of every parameter. Text ORDER BY keys use COLLATE "C" to sort bytewise,
-- as SQLite does, whatever the collation of the database.

-- name: insert_run
INSERT INTO runs (id, org, workflow, status, input, trigger, created_at, started_at, updated_at,
                  deadline_at, lease_owner, lease_expires_at, fence, executions, workflow_id,
                  workflow_version, event_id)
VALUES (:id, :org, :workflow, :status, :input, :trigger, :created_at, :started_at, :created_at,
        :deadline_at, :owner, :lease_until, :fence, :executions, :workflow_id,
        :workflow_version, :event_id)
ON CONFLICT (id) DO NOTHING;

-- name: claim_runs
-- Rows locked by another claim are skipped, so concurrent workers claim disjoint runs. The
-- claimed runs come back in the order they fell due.
WITH due AS (
    SELECT id,
           CASE status WHEN 'pending' THEN created_at WHEN 'waiting' THEN wake_at
                ELSE lease_expires_at END AS due_at
    FROM runs
    WHERE (status = 'pending'
           OR (status = 'waiting' AND wake_at <= CAST(:now AS DOUBLE PRECISION))
           OR (status = 'running' AND lease_expires_at <= CAST(:now AS DOUBLE PRECISION)))
      AND (workflow IN (SELECT jsonb_array_elements_text(CAST(:workflows AS JSONB)))
           OR workflow_version IS NOT NULL)
    ORDER BY due_at
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE runs
    SET status = 'running', lease_owner = :owner, lease_expires_at = :lease_until,
        fence = runs.fence + 1, executions = runs.executions + 1, wake_at = NULL,
        started_at = COALESCE(runs.started_at, CAST(:now AS DOUBLE PRECISION)), updated_at = :now
    FROM due
    WHERE runs.id = due.id
    RETURNING runs.id, runs.workflow, runs.input, runs.fence, runs.created_at, runs.deadline_at,
              runs.org, runs.workflow_id, runs.workflow_version, due.due_at
)
SELECT id, workflow, input, fence, created_at, deadline_at, org, workflow_id, workflow_version
FROM claimed
ORDER BY due_at, id COLLATE "C";

-- name: steps_of_runs
SELECT run_id, key, position, name, kind, status, attempts, output, error,
       started_at, finished_at, wake_at
FROM steps WHERE run_id IN (SELECT jsonb_array_elements_text(CAST(:run_ids AS JSONB)))
ORDER BY run_id, position;

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
WHERE (CAST(:workflow AS TEXT) IS NULL OR workflow = :workflow)
  AND (CAST(:status AS TEXT) IS NULL OR status = :status)
  AND (CAST(:org AS TEXT) IS NULL OR org = :org)
ORDER BY created_at DESC, id COLLATE "C" DESC
LIMIT :limit;

-- name: next_wake_at
-- Timers and schedule ticks. Expired leases are found by the regular poll of the worker.
SELECT LEAST(
  (SELECT MIN(wake_at) FROM runs
   WHERE status = 'waiting' AND wake_at IS NOT NULL
     AND (workflow IN (SELECT jsonb_array_elements_text(CAST(:workflows AS JSONB)))
          OR workflow_version IS NOT NULL)),
  (SELECT MIN(next_fire_at) FROM schedules WHERE enabled));

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
  AND id IN (SELECT jsonb_array_elements_text(CAST(:run_ids AS JSONB)))
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
WHERE org = :org AND (CAST(:type AS TEXT) IS NULL OR type = :type)
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
-- The where parameter is a JSON object of field to value. A document matches when no entry of
-- it differs. Values compare as JSONB (so 1 = 1.0, and true is not 1), a missing field counts as
-- null, and objects and arrays compare by content. The sort parameter is a field name or NULL,
-- descending a bool. Sorting follows SQLite, which orders NULL (and JSON null), then numbers
-- (booleans as 0 and 1), then text (objects and arrays as their JSON text), bytewise. seq keeps
-- documents created in the same instant in creation order, as the SQLite rowid does.
SELECT org, noun, id, data, created_at, updated_at, version FROM (
    SELECT d.org, d.noun, d.id, d.data, d.created_at, d.updated_at, d.version, d.seq,
           CASE jsonb_typeof(s.k)
               WHEN 'number' THEN 1 WHEN 'boolean' THEN 1
               WHEN 'string' THEN 2 WHEN 'object' THEN 2 WHEN 'array' THEN 2
               ELSE 0
           END AS sort_rank,
           CASE jsonb_typeof(s.k)
               WHEN 'number' THEN CAST(s.k AS NUMERIC)
               WHEN 'boolean' THEN CASE WHEN CAST(s.k AS BOOLEAN) THEN 1 ELSE 0 END
           END AS sort_number,
           CASE WHEN jsonb_typeof(s.k) IN ('string', 'object', 'array')
                THEN s.k #>> '{}' END AS sort_text
    FROM documents AS d
    CROSS JOIN LATERAL (
        SELECT CASE CAST(:sort AS TEXT)
                   WHEN 'createdAt' THEN to_jsonb(d.created_at)
                   WHEN 'updatedAt' THEN to_jsonb(d.updated_at)
                   WHEN '$id' THEN to_jsonb(d.id)
                   ELSE CAST(d.data AS JSONB) -> CAST(:sort AS TEXT)
               END
    ) AS s (k)
    WHERE d.org = :org AND d.noun = :noun AND NOT EXISTS (
        SELECT 1 FROM jsonb_each(CAST(:where AS JSONB)) AS w
        WHERE NULLIF(CAST(d.data AS JSONB) -> w.key, CAST('null' AS JSONB))
              IS DISTINCT FROM NULLIF(w.value, CAST('null' AS JSONB))
    )
) AS found
ORDER BY CASE WHEN CAST(:descending AS BOOLEAN) THEN sort_rank END DESC,
         CASE WHEN CAST(:descending AS BOOLEAN) THEN sort_number END DESC,
         CASE WHEN CAST(:descending AS BOOLEAN) THEN sort_text COLLATE "C" END DESC,
         CASE WHEN NOT CAST(:descending AS BOOLEAN) THEN sort_rank END,
         CASE WHEN NOT CAST(:descending AS BOOLEAN) THEN sort_number END,
         CASE WHEN NOT CAST(:descending AS BOOLEAN) THEN sort_text COLLATE "C" END,
         created_at, seq
LIMIT :limit;

-- name: notify_runnable
-- Wakes the workers that LISTEN on plait_runnable (delivered when the transaction commits).
SELECT pg_notify('plait_runnable', CAST(:payload AS TEXT));
