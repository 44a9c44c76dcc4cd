-- The SQLite text of the named queries of plait.store.events that differ between the
-- dialects (the others are shared: plait/store/queries/events.sql). Each block starts with
-- "-- name: NAME".
-- lock_debounce serialises writers that would otherwise race between reading and writing a
-- debounce key; SQLite needs no lock (BEGIN IMMEDIATE lets one writer in at a time), so it is a
-- no-op that keeps the operation written once for both dialects.

-- name: list_events
SELECT id, org, type, data, source, run_id, created_at FROM events
WHERE org = :org AND (:type IS NULL OR type = :type)
ORDER BY seq DESC
LIMIT :limit;

-- name: lock_debounce
SELECT :org, :workflow_id, :key;

-- name: trigger_candidates
SELECT w.id, w.name, w.kind, w.version, v.definition
FROM workflow_triggers t
JOIN workflows w ON w.org = t.org AND w.id = t.workflow_id
LEFT JOIN workflow_versions v ON v.org = w.org AND v.workflow_id = w.id AND v.version = w.version
WHERE t.org = :org AND t.event_type = :type AND w.status = 'Activated'
ORDER BY w.created_at, w.id;

-- name: wait_candidates
SELECT run_id, step_key, match, scope FROM event_waits
WHERE org = :org AND event_type = :type ORDER BY created_at, run_id;

-- name: resolve_wait_step
UPDATE steps SET status = 'completed', output = :output, finished_at = :now, attempts = 1
WHERE run_id = :run_id AND key = :step_key AND status = 'waiting';
