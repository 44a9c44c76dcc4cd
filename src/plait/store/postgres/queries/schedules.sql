-- The PostgreSQL text of the named queries of plait.store.schedules that differ between the
-- dialects (the others are shared: plait/store/queries/schedules.sql). Each block starts with
-- "-- name: NAME".
-- Columns are selected in the order of the fields of plait.schedules.Schedule.
-- `enabled` is BOOLEAN here, so the parameter of that name must be a bool (not 0 or 1).

-- name: insert_schedule
INSERT INTO schedules (
    org, id, workflow_id, cron, timezone, catchup, max_catchup, input, enabled, next_fire_at,
    created_at, notifications
)
VALUES (
    :org, :id, :workflow_id, :cron, :timezone, :catchup, :max_catchup, :input,
    CAST(:enabled AS BOOLEAN), :next_fire_at, :created_at, :notifications
);

-- name: list_schedules
SELECT id, org, workflow_id, cron, timezone, catchup, max_catchup, input, enabled, next_fire_at,
       created_at, notifications
FROM schedules
WHERE org = :org AND (CAST(:workflow_id AS TEXT) IS NULL OR workflow_id = :workflow_id)
ORDER BY created_at, id COLLATE "C";

-- name: due_schedules
-- Across organizations, since the poller serves them all.
SELECT id, org, workflow_id, cron, timezone, catchup, max_catchup, input, enabled, next_fire_at,
       created_at, notifications
FROM schedules
WHERE enabled AND next_fire_at <= :now
ORDER BY next_fire_at, org COLLATE "C", id COLLATE "C"
LIMIT :limit;

-- name: paused_schedules_of_workflow
SELECT id, org, workflow_id, cron, timezone, catchup, max_catchup, input, enabled, next_fire_at,
       created_at, notifications
FROM schedules
WHERE org = :org AND workflow_id = :workflow_id AND NOT enabled
ORDER BY id COLLATE "C";

-- name: resume_schedule
UPDATE schedules SET enabled = TRUE, next_fire_at = :next_fire_at
WHERE org = :org AND id = :id AND NOT enabled;

-- name: set_schedules_enabled
-- Only rows that change, so the count says how many were paused or resumed.
UPDATE schedules SET enabled = CAST(:enabled AS BOOLEAN)
WHERE org = :org AND workflow_id = :workflow_id AND enabled <> CAST(:enabled AS BOOLEAN);

-- name: advance_schedule
-- The compare-and-set of fire_schedule. No row changes if another worker fired this tick first,
-- or if the schedule was paused or deleted since it was found due.
UPDATE schedules SET next_fire_at = :new_next
WHERE id = :id AND next_fire_at = :expected_next AND enabled;

-- name: page_schedules
-- A page of an organization's schedules (of one workflow if given), oldest first: those after
-- the keyset (created_at, id) of the last schedule of the previous page.
SELECT id, org, workflow_id, cron, timezone, catchup, max_catchup, input, enabled, next_fire_at,
       created_at, notifications
FROM schedules
WHERE org = :org AND (CAST(:workflow_id AS TEXT) IS NULL OR workflow_id = :workflow_id)
  AND (CAST(:after_at AS DOUBLE PRECISION) IS NULL OR created_at > :after_at
       OR (created_at = :after_at AND id COLLATE "C" > CAST(:after_id AS TEXT)))
ORDER BY created_at, id COLLATE "C"
LIMIT :limit;
