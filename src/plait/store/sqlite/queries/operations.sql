-- The SQLite text of the named queries of plait.store.operations that differ between the
-- dialects (the others are shared: plait/store/queries/operations.sql). Each block starts with
-- "-- name: NAME".

-- name: reopen_run
UPDATE runs
SET status = 'pending', outcome = NULL, output = NULL, error = NULL, finished_at = NULL,
    wake_at = NULL,
    lease_owner = NULL, lease_expires_at = NULL, updated_at = :now,
    workflow_version = COALESCE(:version, workflow_version),
    deadline_at = CASE WHEN deadline_at IS NULL THEN NULL
                       ELSE :now + (deadline_at - COALESCE(started_at, created_at)) END
WHERE id = :run_id AND status = 'failed';

-- name: insert_copied_run
INSERT INTO runs (id, org, workflow, status, input, trigger, created_at, updated_at,
                  deadline_at, workflow_id, workflow_version, event_id)
SELECT :new_id, org, workflow, 'pending', input, :trigger, :now, :now,
       CASE WHEN deadline_at IS NULL THEN NULL
            ELSE :now + (deadline_at - COALESCE(started_at, created_at)) END,
       workflow_id, COALESCE(:version, workflow_version), event_id
FROM runs WHERE id = :run_id;

-- name: copy_steps_before
-- Finished steps only: a step still retrying or waiting runs afresh in the new run. Recorded
-- deadlines are not copied: the new run's timeouts count from its own start.
INSERT INTO steps (run_id, key, position, name, kind, status, attempts, output, error,
                   started_at, finished_at, wake_at, cached)
SELECT :new_id, key, position, name, kind, status, attempts, output, error, started_at,
       finished_at, NULL, cached
FROM steps
WHERE run_id = :run_id AND position < :position
  AND status IN ('completed', 'skipped', 'failed') AND kind <> 'deadline';
