-- Named queries of plait.store.workflows, the same in both dialects. Each block starts with
-- "-- name: NAME"; a dialect's queries/workflows.sql replaces a query of the same name.

-- name: insert_workflow
INSERT INTO workflows (org, id, name, kind, status, version, document, created_at, updated_at)
VALUES (:org, :id, :name, :kind, :status, :version, :document, :now, :now)
ON CONFLICT DO NOTHING;

-- name: insert_version
INSERT INTO workflow_versions (org, workflow_id, version, document, definition, created_at)
VALUES (:org, :workflow_id, :version, :document, :definition, :now);

-- name: update_workflow
-- A name taken by another workflow raises a unique violation (which, in PostgreSQL, also
-- aborts the transaction, or the savepoint it runs in).
UPDATE workflows SET version = version + 1, document = :document, name = :name, updated_at = :now
WHERE org = :org AND id = :id AND version = :expected AND kind = 'definition'
RETURNING version;

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

-- name: list_versions
-- The versions of a workflow, newest first, without their documents (the primary key serves it).
SELECT version, created_at FROM workflow_versions
WHERE org = :org AND workflow_id = :id ORDER BY version DESC;
