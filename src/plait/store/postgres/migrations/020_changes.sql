-- The change feed of live streams (PostgreSQL twin of the SQLite migration; see it for the
-- columns): one row per run status transition, step change and stored event, written by
-- triggers in the transaction of the change. Numbers are drawn before commit, so they may
-- commit out of order: readers hold a gap until every transaction that could fill it has ended
-- (plait.store.changes, plait.service.feed). Each statement that writes changes also sends
-- NOTIFY plait_changes (delivered at commit, once per transaction), which wakes the streams
-- of every process.
CREATE TABLE changes (
    seq      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org      TEXT,
    run_id   TEXT,
    kind     TEXT NOT NULL,
    subject  TEXT,
    status   TEXT,
    detail   TEXT,
    attempts INTEGER,
    at       DOUBLE PRECISION
);
CREATE INDEX changes_by_run ON changes (run_id, seq) WHERE run_id IS NOT NULL;
CREATE INDEX changes_by_org ON changes (org, seq) WHERE org IS NOT NULL;

CREATE FUNCTION plait_run_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO changes (org, run_id, kind, subject, status, detail, at)
    VALUES (NEW.org, NEW.id, 'run', NEW.workflow, NEW.status, NEW.outcome, NEW.updated_at);
    RETURN NULL;
END;
$$;
CREATE TRIGGER changes_run_created AFTER INSERT ON runs
FOR EACH ROW EXECUTE FUNCTION plait_run_changed();
CREATE TRIGGER changes_run_moved AFTER UPDATE OF status ON runs
FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION plait_run_changed();

CREATE FUNCTION plait_step_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO changes (run_id, kind, subject, status, detail, attempts, at)
    VALUES (NEW.run_id, 'step', NEW.key, NEW.status, NEW.kind, NEW.attempts,
            COALESCE(NEW.finished_at, NEW.started_at));
    RETURN NULL;
END;
$$;
CREATE TRIGGER changes_step_recorded AFTER INSERT ON steps
FOR EACH ROW EXECUTE FUNCTION plait_step_changed();
CREATE TRIGGER changes_step_moved AFTER UPDATE OF status, attempts ON steps
FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.attempts IS DISTINCT FROM NEW.attempts)
EXECUTE FUNCTION plait_step_changed();

CREATE FUNCTION plait_event_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO changes (org, kind, subject, detail, at)
    VALUES (NEW.org, 'event', NEW.id, NEW.type, NEW.created_at);
    RETURN NULL;
END;
$$;
CREATE TRIGGER changes_event_stored AFTER INSERT ON events
FOR EACH ROW EXECUTE FUNCTION plait_event_changed();

CREATE FUNCTION plait_changes_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('plait_changes', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER changes_notify AFTER INSERT ON changes
FOR EACH STATEMENT EXECUTE FUNCTION plait_changes_notify();
