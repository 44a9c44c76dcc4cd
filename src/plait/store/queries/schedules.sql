-- Named queries of plait.store.schedules, the same in both dialects. Each block starts with
-- "-- name: NAME"; a dialect's queries/schedules.sql replaces a query of the same name.
-- Columns are selected in the order of the fields of plait.schedules.Schedule.

-- name: get_schedule
SELECT id, org, workflow_id, cron, timezone, catchup, max_catchup, input, enabled, next_fire_at,
       created_at
FROM schedules
WHERE org = :org AND id = :id;

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

-- name: insert_tick
INSERT INTO schedule_ticks (schedule_id, tick_at, run_id, fired_at)
VALUES (:schedule_id, :tick_at, NULL, :now)
ON CONFLICT (schedule_id, tick_at) DO NOTHING;

-- name: set_tick_run
UPDATE schedule_ticks SET run_id = :run_id
WHERE schedule_id = :schedule_id AND tick_at = :tick_at;
