-- Named queries of plait.store.announcements, the same in both dialects. Each block starts with
-- "-- name: NAME"; a dialect's queries/announcements.sql would replace a query of the same name.

-- name: announced_workflow
-- The workflow as get_workflow reads it, but with its run counter (running) for the count of
-- executing runs: inside a write transaction, one row by primary key and no index scan. The
-- caller adds the counter deltas its transaction has not applied yet.
SELECT w.org, w.id, w.name, w.kind, w.status, w.version, w.document, w.running,
       w.run_count, w.success_count, w.failure_count, w.last_run_at, w.created_at, w.updated_at,
       w.triggers
FROM workflows w WHERE w.org = :org AND w.id = :id;

-- name: announced_run
-- What the end of a run says about it: how it was started, when, and (for a run started by a
-- Workflow.triggered or Workflow.finished event) that event's data, which carries the cascade,
-- or (for one started by an event a hook emitted) the run the hook fired for.
SELECT r.trigger, r.event_id, r.parent_run_id, r.created_at, r.started_at, e.type,
       CASE WHEN e.type IN ('Workflow.triggered', 'Workflow.finished') THEN e.data END,
       CASE WHEN e.source = 'hook' THEN e.run_id END
FROM runs r LEFT JOIN events e ON e.org = r.org AND e.id = r.event_id
WHERE r.id = :run_id;
