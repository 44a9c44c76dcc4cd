-- The PostgreSQL text of the named queries of plait.store.events that differ between the
-- dialects (the others are shared: plait/store/queries/events.sql). Each block starts with
-- "-- name: NAME".
-- lock_debounce serialises writers that would otherwise race between reading and writing a
-- debounce key (SQLite needs none: BEGIN IMMEDIATE lets one writer in at a time).

-- name: list_events
SELECT id, org, type, data, source, run_id, created_at FROM events
WHERE org = :org AND (CAST(:type AS TEXT) IS NULL OR type = :type)
ORDER BY seq DESC
LIMIT :limit;

-- name: lock_debounce
-- Until COMMIT: one transaction at a time decides whether an event joins the debounced run of
-- this key or starts a new one (two-key advisory locks: 7270 is plait's class of them).
SELECT pg_advisory_xact_lock(7270, hashtext(CAST(:org AS TEXT) || '/' || CAST(:workflow_id AS TEXT) || '/' || CAST(:key AS TEXT)));

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

-- name: resolve_wait_step
-- The store passes the output as JSON text (a str), which SQLite keeps as TEXT in the BLOB
-- column. Here it is converted to bytes, so the step reads back as BYTEA like any other.
-- Passing bytes instead fails loudly (convert_to takes text), and then this should set the
-- output to the parameter cast AS BYTEA.
UPDATE steps SET status = 'completed', output = convert_to(:output, 'UTF8'), finished_at = :now,
                 attempts = 1
WHERE run_id = :run_id AND key = :step_key AND status = 'waiting';
