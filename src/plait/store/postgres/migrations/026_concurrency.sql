-- Flow control of runs (PostgreSQL twin of the SQLite migration; see it for the columns).
-- The trigger also sends NOTIFY plait_runnable when it unparks a run, so that every worker
-- looks for it at once.
ALTER TABLE runs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN concurrency_key TEXT;
ALTER TABLE runs ADD COLUMN concurrency_limit INTEGER;
ALTER TABLE runs ADD COLUMN slot_wait INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN singleton_key TEXT;

CREATE TABLE concurrency_slots (
    org      TEXT NOT NULL,
    workflow TEXT NOT NULL,
    key      TEXT NOT NULL,
    used     INTEGER NOT NULL,
    PRIMARY KEY (org, workflow, key)
);

DROP INDEX runs_pending;
DROP INDEX runs_waiting;
CREATE INDEX runs_pending ON runs (priority DESC, created_at)
    WHERE status = 'pending' AND slot_wait = 0;
CREATE INDEX runs_waiting ON runs (wake_at) WHERE status = 'waiting' AND slot_wait = 0;
CREATE INDEX runs_slot_wait ON runs (org, workflow, concurrency_key, priority DESC, created_at)
    WHERE slot_wait = 1 AND status IN ('pending', 'waiting');
CREATE INDEX runs_keyed ON runs (org, workflow, concurrency_key, created_at)
    WHERE concurrency_key IS NOT NULL AND status IN ('pending', 'running', 'waiting');
CREATE INDEX runs_singleton ON runs (org, workflow, singleton_key, created_at)
    WHERE singleton_key IS NOT NULL AND status IN ('pending', 'running', 'waiting');

CREATE FUNCTION plait_concurrency_slot_freed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'running' THEN
        UPDATE concurrency_slots SET used = GREATEST(used - 1, 0)
        WHERE org = OLD.org AND workflow = OLD.workflow AND key = OLD.concurrency_key;
        DELETE FROM concurrency_slots
        WHERE used = 0 AND org = OLD.org AND workflow = OLD.workflow AND key = OLD.concurrency_key;
    END IF;
    IF OLD.slot_wait = 0 THEN
        UPDATE runs SET slot_wait = 0 WHERE id = (
            SELECT id FROM runs
            WHERE slot_wait = 1 AND status IN ('pending', 'waiting') AND org = OLD.org
              AND workflow = OLD.workflow AND concurrency_key = OLD.concurrency_key
            ORDER BY priority DESC, created_at LIMIT 1);
        IF FOUND THEN
            PERFORM pg_notify('plait_runnable', '');
        END IF;
    ELSIF NEW.status NOT IN ('pending', 'waiting') THEN
        UPDATE runs SET slot_wait = 0 WHERE id = OLD.id;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER concurrency_slot_freed AFTER UPDATE OF status ON runs
FOR EACH ROW WHEN (OLD.concurrency_key IS NOT NULL AND OLD.status IS DISTINCT FROM NEW.status
                   AND NEW.status <> 'running')
EXECUTE FUNCTION plait_concurrency_slot_freed();
