-- Flow control of runs (docs/flow-control.md): priority, concurrency keys and singletons.
-- `priority` orders claims (higher first, then the order runs fell due). A run of a workflow
-- with a concurrency key keeps the key's value (`concurrency_key`) and limit; it holds one of
-- the key's slots while it is `running` (`concurrency_slots.used` counts them, taken by the
-- claim under the slot row's lock, given back by the trigger below on every way out of
-- `running`, so a cancel, a suspend, a crash release or an end all free it). A run a claim
-- found over its key's limit is parked (`slot_wait` 1): the claim's indexes skip it until a
-- slot of its key is freed, which unparks the next live one (priority, then age). A run that
-- leaves running, or an unparked run that ends, unparks the next (a slot may be free for it); a
-- parked run that ends unparks none and is no longer parked (it can never take an unpark meant
-- for a live run). A key's slot row
-- goes when its last slot is given back (a key seen once keeps no row). `singleton_key`
-- is the value of a singleton workflow's key (at most one live run per value).
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
) WITHOUT ROWID;

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

CREATE TRIGGER concurrency_slot_freed AFTER UPDATE OF status ON runs
WHEN OLD.concurrency_key IS NOT NULL AND OLD.status IS NOT NEW.status AND NEW.status <> 'running'
BEGIN
    UPDATE concurrency_slots SET used = MAX(used - 1, 0)
    WHERE OLD.status = 'running' AND org = OLD.org AND workflow = OLD.workflow
      AND key = OLD.concurrency_key;
    DELETE FROM concurrency_slots
    WHERE used = 0 AND org = OLD.org AND workflow = OLD.workflow AND key = OLD.concurrency_key;
    UPDATE runs SET slot_wait = 0 WHERE OLD.slot_wait = 0 AND id = (
        SELECT id FROM runs
        WHERE slot_wait = 1 AND status IN ('pending', 'waiting') AND org = OLD.org
          AND workflow = OLD.workflow AND concurrency_key = OLD.concurrency_key
        ORDER BY priority DESC, created_at LIMIT 1);
    UPDATE runs SET slot_wait = 0
    WHERE id = OLD.id AND slot_wait = 1 AND NEW.status NOT IN ('pending', 'waiting');
END;
