-- Human tasks get attempts (PostgreSQL twin of the SQLite migration): resuming a run whose task
-- step failed (the task expired) opens a new task for the same step (attempt 2, ...) and the
-- expired one stays, so a task is unique per (run, step, attempt) rather than per (run, step).
-- `completed_via` records the API key through which a person completed a task.
ALTER TABLE tasks ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE tasks ADD COLUMN completed_via TEXT;
ALTER TABLE tasks DROP CONSTRAINT tasks_run_id_step_key_key;
ALTER TABLE tasks ADD CONSTRAINT tasks_run_id_step_key_attempt_key UNIQUE (run_id, step_key, attempt);

-- An API key may be bound to a person: a task completed with it is completed by that person.
ALTER TABLE api_keys ADD COLUMN user_name TEXT;
