-- The PostgreSQL text of the named queries of plait.store.runs that differ between the
-- dialects (the others are shared: plait/store/queries/runs.sql). Each block starts with
-- "-- name: NAME".

-- name: steps_of_runs
SELECT run_id, key, position, name, kind, status, attempts, output, error,
       started_at, finished_at, wake_at
FROM steps WHERE run_id IN (SELECT jsonb_array_elements_text(CAST(:run_ids AS JSONB)))
ORDER BY run_id, position;

-- name: list_runs
SELECT id, org, workflow, status, input, output, error, trigger, created_at, started_at,
       finished_at, updated_at, wake_at, deadline_at, lease_owner, lease_expires_at, fence,
       executions, workflow_id, workflow_version, event_id, parent_run_id, parent_step,
       outcome
FROM runs
WHERE (CAST(:workflow AS TEXT) IS NULL OR workflow = :workflow)
  AND (CAST(:status AS TEXT) IS NULL OR status = :status)
  AND (CAST(:org AS TEXT) IS NULL OR org = :org)
ORDER BY created_at DESC, id COLLATE "C" DESC
LIMIT :limit;

-- name: page_runs
-- A page of an organization's runs, newest first: those after the keyset (created_at, id) of
-- the last run of the previous page (none for the first page). runs_by_org serves it.
SELECT id, org, workflow, status, input, output, error, trigger, created_at, started_at,
       finished_at, updated_at, wake_at, deadline_at, lease_owner, lease_expires_at, fence,
       executions, workflow_id, workflow_version, event_id, parent_run_id, parent_step,
       outcome
FROM runs
WHERE org = :org AND (CAST(:workflow AS TEXT) IS NULL OR workflow = :workflow)
  AND (CAST(:status AS TEXT) IS NULL OR status = :status)
  AND (CAST(:after_at AS DOUBLE PRECISION) IS NULL OR created_at < :after_at
       OR (created_at = :after_at AND id COLLATE "C" < CAST(:after_id AS TEXT)))
ORDER BY created_at DESC, id COLLATE "C" DESC
LIMIT :limit;
