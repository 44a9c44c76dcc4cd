-- Schedule notifications (brief 001): who hears of a scheduled run's start and end
-- ({"onStart": [addresses], "onComplete": [addresses]}), and, when a run ends, the tick (and so
-- the schedule) that started it.
ALTER TABLE schedules ADD COLUMN notifications TEXT NOT NULL DEFAULT '{}';
CREATE INDEX schedule_ticks_by_run ON schedule_ticks (run_id) WHERE run_id IS NOT NULL;
