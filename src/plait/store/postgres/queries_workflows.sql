-- Named queries of the workflow registry and event dispatch (PostgreSQL twins).

-- name: insert_workflow
INSERT INTO workflows (org, id, name, kind, status, version, document, created_at, updated_at)
VALUES (:org, :id, :name, :kind, :status, :version, :document, :now, :now)
ON CONFLICT DO NOTHING;

-- name: insert_version
INSERT INTO workflow_versions (org, workflow_id, version, document, definition, created_at)
VALUES (:org, :workflow_id, :version, :document, :definition, :now);

-- name: update_workflow
-- A name taken by another workflow raises a unique violation, which in PostgreSQL also aborts
-- the transaction (or the savepoint it runs in).
UPDATE workflows SET version = version + 1, document = :document, name = :name, updated_at = :now
WHERE org = :org AND id = :id AND version = :expected AND kind = 'definition'
RETURNING version;

-- name: set_status
UPDATE workflows SET status = :to_status, updated_at = :now
WHERE org = :org AND id = :id
  AND status IN (SELECT jsonb_array_elements_text(CAST(:from_statuses AS JSONB)));

-- name: set_trigger_list
-- The event types that trigger the workflow, in the definition's order (a JSON list), read with
-- the workflow; workflow_triggers serves dispatch.
UPDATE workflows SET triggers = :triggers WHERE org = :org AND id = :id;

-- name: delete_triggers
DELETE FROM workflow_triggers WHERE org = :org AND workflow_id = :id;

-- name: insert_trigger
INSERT INTO workflow_triggers (org, event_type, workflow_id) VALUES (:org, :event_type, :id)
ON CONFLICT DO NOTHING;

-- name: delete_workflow
DELETE FROM workflows WHERE org = :org AND id = :id;

-- name: delete_versions
DELETE FROM workflow_versions WHERE org = :org AND workflow_id = :id;

-- name: delete_debounces
DELETE FROM debounces WHERE org = :org AND workflow_id = :id;

-- name: get_workflow
-- The 8th column counts the runs of the workflow that are executing (pending or running), not
-- those waiting (a debounce delay, a timer, an event): the workflow reads Triggered meanwhile.
-- The partial index runs_executing serves the count.
SELECT w.org, w.id, w.name, w.kind, w.status, w.version, w.document,
       (SELECT COUNT(*) FROM runs r
        WHERE r.status IN ('pending', 'running') AND r.org = w.org AND r.workflow_id = w.id)
       AS executing,
       w.run_count, w.success_count, w.failure_count, w.last_run_at, w.created_at, w.updated_at,
       w.triggers
FROM workflows w WHERE w.org = :org AND (w.id = :ref OR w.name = :ref);

-- name: get_workflow_head
-- get_workflow's first seven columns, without the count: for write transactions (a child's
-- start, a schedule's tick), which need only what the workflow is.
SELECT w.org, w.id, w.name, w.kind, w.status, w.version, w.document
FROM workflows w WHERE w.org = :org AND (w.id = :ref OR w.name = :ref);

-- name: get_version
SELECT org, workflow_id, version, document, definition, created_at
FROM workflow_versions WHERE org = :org AND workflow_id = :id AND version = :version;

-- name: list_workflows
-- The 8th column as in get_workflow.
SELECT w.org, w.id, w.name, w.kind, w.status, w.version, w.document,
       (SELECT COUNT(*) FROM runs r
        WHERE r.status IN ('pending', 'running') AND r.org = w.org AND r.workflow_id = w.id)
       AS executing,
       w.run_count, w.success_count, w.failure_count, w.last_run_at, w.created_at, w.updated_at,
       w.triggers
FROM workflows w WHERE w.org = :org ORDER BY w.created_at, w.id COLLATE "C";

-- name: trigger_candidates
SELECT w.id, w.name, w.kind, w.version, v.definition
FROM workflow_triggers t
JOIN workflows w ON w.org = t.org AND w.id = t.workflow_id
LEFT JOIN workflow_versions v ON v.org = w.org AND v.workflow_id = w.id AND v.version = w.version
WHERE t.org = :org AND t.event_type = :type AND w.status = 'Activated'
ORDER BY w.created_at, w.id COLLATE "C";

-- name: wait_candidates
SELECT run_id, step_key, match, scope FROM event_waits
WHERE org = :org AND event_type = :type ORDER BY created_at, run_id COLLATE "C";

-- name: insert_wait
INSERT INTO event_waits (org, event_type, run_id, step_key, match, scope, created_at)
VALUES (:org, :event_type, :run_id, :step_key, :match, :scope, :now)
ON CONFLICT DO NOTHING;

-- name: delete_wait
DELETE FROM event_waits WHERE run_id = :run_id AND step_key = :step_key;

-- name: resolve_wait_step
-- The store passes the output as JSON text (a str), which SQLite keeps as TEXT in the BLOB
-- column. Here it is converted to bytes, so the step reads back as BYTEA like any other.
-- Passing bytes instead fails loudly (convert_to takes text), and then this should set the
-- output to the parameter cast AS BYTEA.
UPDATE steps SET status = 'completed', output = convert_to(:output, 'UTF8'), finished_at = :now,
                 attempts = 1
WHERE run_id = :run_id AND key = :step_key AND status = 'waiting';

-- name: wake_waiting_run
UPDATE runs SET status = 'pending', wake_at = NULL, updated_at = :now
WHERE id = :run_id AND status = 'waiting';

-- name: hint_running_run
UPDATE runs SET wake_at = :now WHERE id = :run_id AND status = 'running';

-- name: insert_triggered_run
INSERT INTO runs (id, org, workflow, status, input, trigger, created_at, updated_at, wake_at,
                  workflow_id, workflow_version, event_id)
VALUES (:id, :org, :workflow, :status, :input, :trigger, :now, :now, :wake_at,
        :workflow_id, :version, :event_id)
ON CONFLICT (id) DO NOTHING;

-- name: get_debounce
SELECT d.run_id FROM debounces d JOIN runs r ON r.id = d.run_id
WHERE d.org = :org AND d.workflow_id = :workflow_id AND d.key = :key
  AND r.status = 'waiting' AND r.executions = 0;

-- name: push_debounced_run
UPDATE runs SET input = :input, wake_at = :wake_at, event_id = :event_id, updated_at = :now
WHERE id = :run_id AND status = 'waiting' AND executions = 0;

-- name: upsert_debounce
INSERT INTO debounces (org, workflow_id, key, run_id) VALUES (:org, :workflow_id, :key, :run_id)
ON CONFLICT (org, workflow_id, key) DO UPDATE SET run_id = excluded.run_id;

-- name: page_runs
-- A page of an organization's runs, newest first: those after the keyset (created_at, id) of
-- the last run of the previous page (none for the first page). runs_by_org serves it.
SELECT id, org, workflow, status, input, output, error, trigger, created_at, started_at,
       finished_at, updated_at, wake_at, deadline_at, lease_owner, lease_expires_at, fence,
       executions, workflow_id, workflow_version, event_id, parent_run_id, parent_step
FROM runs
WHERE org = :org AND (CAST(:workflow AS TEXT) IS NULL OR workflow = :workflow)
  AND (CAST(:status AS TEXT) IS NULL OR status = :status)
  AND (CAST(:after_at AS DOUBLE PRECISION) IS NULL OR created_at < :after_at
       OR (created_at = :after_at AND id COLLATE "C" < CAST(:after_id AS TEXT)))
ORDER BY created_at DESC, id COLLATE "C" DESC
LIMIT :limit;

-- name: page_events
-- A page of an organization's events, newest first (by seq, the order they were stored), those
-- before the seq of the last event of the previous page.
SELECT seq, id, org, type, data, source, run_id, created_at FROM events
WHERE org = :org AND (CAST(:type AS TEXT) IS NULL OR type = :type)
  AND (CAST(:after_seq AS BIGINT) IS NULL OR seq < :after_seq)
ORDER BY seq DESC
LIMIT :limit;

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
