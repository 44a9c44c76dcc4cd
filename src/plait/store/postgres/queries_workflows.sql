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
SELECT org, id, name, kind, status, version, document, running, run_count, success_count,
       failure_count, last_run_at, created_at, updated_at
FROM workflows WHERE org = :org AND (id = :ref OR name = :ref);

-- name: get_version
SELECT org, workflow_id, version, document, definition, created_at
FROM workflow_versions WHERE org = :org AND workflow_id = :id AND version = :version;

-- name: list_workflows
SELECT org, id, name, kind, status, version, document, running, run_count, success_count,
       failure_count, last_run_at, created_at, updated_at
FROM workflows WHERE org = :org ORDER BY created_at, id COLLATE "C";

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

-- name: workflow_run_started
UPDATE workflows SET running = running + 1 WHERE org = :org AND id = :workflow_id;

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

-- name: workflow_run_ended
UPDATE workflows
SET running = GREATEST(running - 1, 0), run_count = run_count + 1,
    success_count = success_count + CASE WHEN CAST(:status AS TEXT) = 'succeeded' THEN 1 ELSE 0 END,
    failure_count = failure_count + CASE WHEN CAST(:status AS TEXT) = 'failed' THEN 1 ELSE 0 END,
    last_run_at = :now
WHERE org = (SELECT org FROM runs WHERE id = :run_id)
  AND id = (SELECT workflow_id FROM runs WHERE id = :run_id);
