-- The attempts of steps that were retried, for a run's timeline (the console's run page): a
-- step's row keeps its first start and its last end only. Written by triggers in the
-- transaction that records the step (no verb writes it; a step that succeeds at its first
-- attempt writes nothing here). `started_at`: the first attempt's start; a later attempt's is
-- the time it was due (it starts then, or when a worker replays the run after a long backoff).
-- A failed attempt's end is not recorded: `next_at` is when the next attempt was due, so its
-- bar runs to there. Rows go with their step (a resume deletes the failed step's row).
CREATE TABLE step_attempts (
    run_id     TEXT NOT NULL,
    key        TEXT NOT NULL,
    attempt    INTEGER NOT NULL,
    status     TEXT NOT NULL,
    started_at REAL,
    ended_at   REAL,
    next_at    REAL,
    PRIMARY KEY (run_id, key, attempt)
) WITHOUT ROWID;
CREATE TRIGGER step_attempts_first_failed AFTER INSERT ON steps
WHEN NEW.status = 'retrying'
BEGIN
    INSERT OR REPLACE INTO step_attempts
    VALUES (NEW.run_id, NEW.key, NEW.attempts, 'retrying', NEW.started_at, NULL, NEW.wake_at);
END;
CREATE TRIGGER step_attempts_retried AFTER UPDATE OF status, attempts ON steps
WHEN OLD.status = 'retrying' AND NEW.attempts > OLD.attempts
BEGIN
    INSERT OR REPLACE INTO step_attempts
    VALUES (NEW.run_id, NEW.key, NEW.attempts, NEW.status, OLD.wake_at, NEW.finished_at,
            CASE WHEN NEW.status = 'retrying' THEN NEW.wake_at END);
END;
CREATE TRIGGER step_attempts_forgotten AFTER DELETE ON steps
WHEN OLD.attempts > 1 OR OLD.status = 'retrying'
BEGIN
    DELETE FROM step_attempts WHERE run_id = OLD.run_id AND key = OLD.key;
END;
