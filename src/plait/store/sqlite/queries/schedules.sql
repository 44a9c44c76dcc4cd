-- The SQLite text of the named queries of plait.store.schedules that differ between the
-- dialects (the others are shared: plait/store/queries/schedules.sql). Each block starts with
-- "-- name: NAME".
-- Columns are selected in the order of the fields of plait.schedules.Schedule.

-- name: insert_schedule
INSERT INTO schedules (
    org, id, workflow_id, cron, timezone, catchup, max_catchup, input, enabled, next_fire_at,
    created_at, notifications
)
VALUES (
    :org, :id, :workflow_id, :cron, :timezone, :catchup, :max_catchup, :input, :enabled,
    :next_fire_at, :created_at, :notifications
);

-- name: list_schedules
SELECT id, org, workflow_id, cron, timezone, catchup, max_catchup, input, enabled, next_fire_at,
       created_at, notifications
FROM schedules
WHERE org = :org AND (:workflow_id IS NULL OR workflow_id = :workflow_id)
ORDER BY created_at, id;

-- name: due_schedules
-- Across organizations: the poller serves them all.
SELECT id, org, workflow_id, cron, timezone, catchup, max_catchup, input, enabled, next_fire_at,
       created_at, notifications
FROM schedules
WHERE enabled = 1 AND next_fire_at <= :now
ORDER BY next_fire_at, org, id
LIMIT :limit;

-- name: paused_schedules_of_workflow
SELECT id, org, workflow_id, cron, timezone, catchup, max_catchup, input, enabled, next_fire_at,
       created_at, notifications
FROM schedules
WHERE org = :org AND workflow_id = :workflow_id AND enabled = 0;

-- name: resume_schedule
UPDATE schedules SET enabled = 1, next_fire_at = :next_fire_at
WHERE org = :org AND id = :id AND enabled = 0;

-- name: set_schedules_enabled
-- Only rows that change, so the count says how many were paused or resumed.
UPDATE schedules SET enabled = :enabled
WHERE org = :org AND workflow_id = :workflow_id AND enabled != :enabled;

-- name: advance_schedule
-- The compare-and-set of fire_schedule: no row changes if another worker fired this tick first,
-- or if the schedule was paused or deleted since it was found due.
UPDATE schedules SET next_fire_at = :new_next
WHERE id = :id AND next_fire_at = :expected_next AND enabled = 1;

-- name: page_schedules
-- A page of an organization's schedules (of one workflow if given), oldest first: those after
-- the keyset (created_at, id) of the last schedule of the previous page.
SELECT id, org, workflow_id, cron, timezone, catchup, max_catchup, input, enabled, next_fire_at,
       created_at, notifications
FROM schedules
WHERE org = :org AND (:workflow_id IS NULL OR workflow_id = :workflow_id)
  AND (:after_at IS NULL OR created_at > :after_at
       OR (created_at = :after_at AND id > :after_id))
ORDER BY created_at, id
LIMIT :limit;
