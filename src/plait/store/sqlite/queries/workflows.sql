-- The SQLite text of the named queries of plait.store.workflows that differ between the
-- dialects (the others are shared: plait/store/queries/workflows.sql). Each block starts with
-- "-- name: NAME".

-- name: set_status
UPDATE workflows SET status = :to_status, updated_at = :now
WHERE org = :org AND id = :id AND status IN (SELECT value FROM json_each(:from_statuses));

-- name: list_workflows
-- The 8th column as in get_workflow.
SELECT w.org, w.id, w.name, w.kind, w.status, w.version, w.document,
       (SELECT COUNT(*) FROM runs r INDEXED BY runs_executing  -- not (org, status): one range
        WHERE r.status IN ('pending', 'running') AND r.org = w.org AND r.workflow_id = w.id)
       AS executing,
       w.run_count, w.success_count, w.failure_count, w.last_run_at, w.created_at, w.updated_at,
       w.triggers
FROM workflows w WHERE w.org = :org ORDER BY w.created_at, w.id;
