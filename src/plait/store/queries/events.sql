-- Named queries of plait.store.events, the same in both dialects. Each block starts with
-- "-- name: NAME"; a dialect's queries/events.sql replaces a query of the same name.

-- name: insert_event
INSERT INTO events (org, id, type, data, source, run_id, created_at)
VALUES (:org, :id, :type, :data, :source, :run_id, :now)
ON CONFLICT (org, id) DO NOTHING;

-- name: get_event
SELECT id, org, type, data, source, run_id, created_at FROM events WHERE org = :org AND id = :id;

-- name: set_event_runs
-- The runs a new event started, kept so that a repeat of its id can answer with them.
UPDATE events SET runs = :runs WHERE org = :org AND id = :id;

-- name: set_event_woken
-- The runs a new event woke (waits it resolved, state machines it was delivered to), for the
-- runs search by event id.
UPDATE events SET woken = :woken WHERE org = :org AND id = :id;

-- name: event_runs
SELECT runs FROM events WHERE org = :org AND id = :id;

-- name: insert_wait
INSERT INTO event_waits (org, event_type, run_id, step_key, match, scope, created_at)
VALUES (:org, :event_type, :run_id, :step_key, :match, :scope, :now)
ON CONFLICT DO NOTHING;

-- name: delete_wait
DELETE FROM event_waits WHERE run_id = :run_id AND step_key = :step_key;

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

-- name: page_events
-- A page of an organization's events, newest first (by seq, the order they were stored), those
-- before the seq of the last event of the previous page (the first page: the largest seq): a
-- backward range of events_by_org.
SELECT seq, id, org, type, data, source, run_id, created_at FROM events
WHERE org = :org AND seq < :after_seq
ORDER BY seq DESC
LIMIT :limit;

-- name: page_events_typed
-- The same, of one type: a backward range of events_by_type.
SELECT seq, id, org, type, data, source, run_id, created_at FROM events
WHERE org = :org AND type = :type AND seq < :after_seq
ORDER BY seq DESC
LIMIT :limit;
