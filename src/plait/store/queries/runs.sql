-- Named queries of plait.store.runs, the same in both dialects. Each block starts with
-- "-- name: NAME"; a dialect's queries/runs.sql replaces a query of the same name.

-- name: insert_run
INSERT INTO runs (id, org, workflow, status, input, trigger, created_at, started_at, updated_at,
                  deadline_at, lease_owner, lease_expires_at, fence, executions, workflow_id,
                  workflow_version, event_id, trace_context)
VALUES (:id, :org, :workflow, :status, :input, :trigger, :created_at, :started_at, :created_at,
        :deadline_at, :owner, :lease_until, :fence, :executions, :workflow_id,
        :workflow_version, :event_id, :trace_context)
ON CONFLICT (id) DO NOTHING;

-- name: run_state
SELECT status, fence FROM runs WHERE id = :run_id;

-- name: get_run
SELECT id, org, workflow, status, input, output, error, trigger, created_at, started_at,
       finished_at, updated_at, wake_at, deadline_at, lease_owner, lease_expires_at, fence,
       executions, workflow_id, workflow_version, event_id, parent_run_id, parent_step,
       outcome, priority, concurrency_key
FROM runs WHERE id = :run_id;

-- name: child_parent
SELECT parent_run_id FROM runs WHERE id = :run_id;

-- name: wake_waiting_run
UPDATE runs SET status = 'pending', wake_at = NULL, updated_at = :now
WHERE id = :run_id AND status = 'waiting';

-- name: hint_running_run
UPDATE runs SET wake_at = :now WHERE id = :run_id AND status = 'running';

-- name: insert_triggered_run
INSERT INTO runs (id, org, workflow, status, input, trigger, created_at, updated_at, wake_at,
                  workflow_id, workflow_version, event_id, trace_context)
VALUES (:id, :org, :workflow, :status, :input, :trigger, :now, :now, :wake_at,
        :workflow_id, :version, :event_id, :trace_context)
ON CONFLICT (id) DO NOTHING;

-- name: insert_event_step
-- The trigger event of a code workflow's run, recorded with the run (a completed step at
-- position -1, which no call of the workflow replays): ctx.event reads it. A debounced run
-- takes each later event in its place.
INSERT INTO steps (run_id, key, position, name, kind, status, attempts, output, error,
                   started_at, finished_at, wake_at)
VALUES (:run_id, :key, :position, :name, :kind, :status, :attempts, :output, :error,
        :started_at, :finished_at, :wake_at)
ON CONFLICT (run_id, key) DO UPDATE
SET output = excluded.output, started_at = excluded.started_at,
    finished_at = excluded.finished_at;

-- name: live_run_counts
-- Runs by live status, for the metrics gauges: each count reads its status's partial index.
SELECT (SELECT COUNT(*) FROM runs WHERE status = 'pending'),
       (SELECT COUNT(*) FROM runs WHERE status = 'running'),
       (SELECT COUNT(*) FROM runs WHERE status = 'waiting');

-- name: event_run_ids
-- The runs a stored event started (or debounced into) and those it woke (JSON arrays).
SELECT runs, woken FROM events WHERE org = :org AND id = :id;
