-- The change feed of live streams (docs/observability.md, "Streams"): one row per run status
-- transition, step change and stored event, numbered in the order written, by triggers in the
-- transaction of the change (no verb writes it; nothing is written twice on a replay, since a
-- replayed step changes no row). `kind` run: `subject` the workflow, `status` the run's new
-- status, `detail` its outcome; step: `subject` the step key, `status`, `detail` its kind,
-- `attempts` (`org` is NULL: a step's stream is its run's); event: `subject` the event id,
-- `detail` its type. `at` is the time the row gives (the run's updated_at, the step's end or
-- start, the event's created_at). The retention (PLAIT_STREAM_RETENTION_SECONDS) deletes the
-- oldest rows but always keeps the newest, so numbers (one more than the largest) go on and a
-- cursor never points back, without AUTOINCREMENT's extra write per row.
CREATE TABLE changes (
    seq      INTEGER PRIMARY KEY,
    org      TEXT,
    run_id   TEXT,
    kind     TEXT NOT NULL,
    subject  TEXT,
    status   TEXT,
    detail   TEXT,
    attempts INTEGER,
    at       REAL
);
CREATE INDEX changes_by_run ON changes (run_id, seq) WHERE run_id IS NOT NULL;
CREATE INDEX changes_by_org ON changes (org, seq) WHERE org IS NOT NULL;
CREATE TRIGGER changes_run_created AFTER INSERT ON runs
BEGIN
    INSERT INTO changes (org, run_id, kind, subject, status, detail, at)
    VALUES (NEW.org, NEW.id, 'run', NEW.workflow, NEW.status, NEW.outcome, NEW.updated_at);
END;
CREATE TRIGGER changes_run_moved AFTER UPDATE OF status ON runs
WHEN OLD.status IS NOT NEW.status
BEGIN
    INSERT INTO changes (org, run_id, kind, subject, status, detail, at)
    VALUES (NEW.org, NEW.id, 'run', NEW.workflow, NEW.status, NEW.outcome, NEW.updated_at);
END;
CREATE TRIGGER changes_step_recorded AFTER INSERT ON steps
BEGIN
    INSERT INTO changes (run_id, kind, subject, status, detail, attempts, at)
    VALUES (NEW.run_id, 'step', NEW.key, NEW.status, NEW.kind, NEW.attempts,
            COALESCE(NEW.finished_at, NEW.started_at));
END;
CREATE TRIGGER changes_step_moved AFTER UPDATE OF status, attempts ON steps
WHEN OLD.status IS NOT NEW.status OR OLD.attempts IS NOT NEW.attempts
BEGIN
    INSERT INTO changes (run_id, kind, subject, status, detail, attempts, at)
    VALUES (NEW.run_id, 'step', NEW.key, NEW.status, NEW.kind, NEW.attempts,
            COALESCE(NEW.finished_at, NEW.started_at));
END;
CREATE TRIGGER changes_event_stored AFTER INSERT ON events
BEGIN
    INSERT INTO changes (org, run_id, kind, subject, detail, at)
    VALUES (NEW.org, NULL, 'event', NEW.id, NEW.type, NEW.created_at);
END;
