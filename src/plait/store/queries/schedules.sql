-- Named queries of plait.store.schedules, the same in both dialects. Each block starts with
-- "-- name: NAME"; a dialect's queries/schedules.sql replaces a query of the same name.
-- Columns are selected in the order of the fields of plait.schedules.Schedule.

-- name: get_schedule
SELECT id, org, workflow_id, cron, timezone, catchup, max_catchup, input, enabled, next_fire_at,
       created_at, notifications
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

-- name: schedule_of_run
-- When a run ends: the schedule whose tick started it (none for other runs), with what the
-- notification of its end says.
SELECT s.org, s.id, s.notifications, r.workflow, r.workflow_id, r.error
FROM schedule_ticks t
JOIN schedules s ON s.id = t.schedule_id
JOIN runs r ON r.id = t.run_id
WHERE t.run_id = :run_id;

-- name: insert_notification_run
-- A run of the built-in notification workflow (plait.service.notifications), in the
-- transaction that starts or ends the scheduled run it tells of.
INSERT INTO runs (id, org, workflow, status, input, trigger, created_at, updated_at)
VALUES (:id, :org, :workflow, 'pending', :input, 'schedule', :now, :now);

-- name: schedule_fires
-- The ticks one schedule of an organization fired, newest first, with the run each started
-- (its status and outcome now). The key (schedule_id, tick_at) serves the order.
SELECT t.tick_at, t.fired_at, t.run_id, r.status, r.outcome
FROM schedule_ticks t
JOIN schedules s ON s.id = t.schedule_id AND s.org = :org
LEFT JOIN runs r ON r.id = t.run_id
WHERE t.schedule_id = :schedule_id
ORDER BY t.tick_at DESC
LIMIT :limit;
