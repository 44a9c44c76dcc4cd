-- Named queries of the schedules area (plait.store.sqlite.schedules).
-- Columns are selected in the order of plait.schedules.Schedule's fields.

-- name: insert_schedule
INSERT INTO schedules (
    org, id, workflow_id, cron, timezone, catchup, max_catchup, input, enabled, next_fire_at,
    created_at
)
VALUES (
    :org, :id, :workflow_id, :cron, :timezone, :catchup, :max_catchup, :input, :enabled,
    :next_fire_at, :created_at
);

-- name: get_schedule
SELECT id, org, workflow_id, cron, timezone, catchup, max_catchup, input, enabled, next_fire_at,
       created_at
FROM schedules
WHERE org = :org AND id = :id;

-- name: list_schedules
SELECT id, org, workflow_id, cron, timezone, catchup, max_catchup, input, enabled, next_fire_at,
       created_at
FROM schedules
WHERE org = :org AND (:workflow_id IS NULL OR workflow_id = :workflow_id)
ORDER BY created_at, id;

-- name: due_schedules
-- Across organizations: the poller serves them all.
SELECT id, org, workflow_id, cron, timezone, catchup, max_catchup, input, enabled, next_fire_at,
       created_at
FROM schedules
WHERE enabled = 1 AND next_fire_at <= :now
ORDER BY next_fire_at, org, id
LIMIT :limit;

-- name: delete_ticks_of_schedule
DELETE FROM schedule_ticks
WHERE schedule_id IN (SELECT id FROM schedules WHERE org = :org AND id = :id);

-- name: delete_schedule
DELETE FROM schedules WHERE org = :org AND id = :id;

-- name: delete_ticks_of_workflow
DELETE FROM schedule_ticks
WHERE schedule_id IN (
    SELECT id FROM schedules WHERE org = :org AND workflow_id = :workflow_id
);

-- name: delete_schedules_of_workflow
DELETE FROM schedules WHERE org = :org AND workflow_id = :workflow_id;

-- name: paused_schedules_of_workflow
SELECT id, org, workflow_id, cron, timezone, catchup, max_catchup, input, enabled, next_fire_at,
       created_at
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

-- name: insert_tick
INSERT INTO schedule_ticks (schedule_id, tick_at, run_id, fired_at)
VALUES (:schedule_id, :tick_at, NULL, :now)
ON CONFLICT (schedule_id, tick_at) DO NOTHING;

-- name: set_tick_run
UPDATE schedule_ticks SET run_id = :run_id
WHERE schedule_id = :schedule_id AND tick_at = :tick_at;

-- name: page_schedules
-- A page of an organization's schedules (of one workflow if given), oldest first: those after
-- the keyset (created_at, id) of the last schedule of the previous page.
SELECT id, org, workflow_id, cron, timezone, catchup, max_catchup, input, enabled, next_fire_at,
       created_at
FROM schedules
WHERE org = :org AND (:workflow_id IS NULL OR workflow_id = :workflow_id)
  AND (:after_at IS NULL OR created_at > :after_at
       OR (created_at = :after_at AND id > :after_id))
ORDER BY created_at, id
LIMIT :limit;
