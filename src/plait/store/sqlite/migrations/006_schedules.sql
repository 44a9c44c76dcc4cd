-- Schedules: cron expressions in a time zone that start runs of a workflow (see plait.schedules
-- and plait.store.sqlite.schedules).
--
-- `next_fire_at` is the next tick in Unix seconds. Firing compares and sets it, so of the workers
-- that find a schedule due only one fires it. Each fired tick is a row of `schedule_ticks`,
-- inserted in the transaction that starts its run: the key (schedule_id, tick_at) lets a tick
-- start at most one run, whichever worker fires it. `input` is JSON text.
CREATE TABLE schedules (
    org          TEXT NOT NULL,
    id           TEXT NOT NULL,
    workflow_id  TEXT NOT NULL,
    cron         TEXT NOT NULL,
    timezone     TEXT NOT NULL,
    catchup      TEXT NOT NULL CHECK (catchup IN ('skip', 'all')),
    max_catchup  INTEGER NOT NULL,
    input        TEXT NOT NULL,
    enabled      INTEGER NOT NULL DEFAULT 1,
    next_fire_at REAL NOT NULL,
    created_at   REAL NOT NULL,
    PRIMARY KEY (org, id)
) WITHOUT ROWID;
CREATE INDEX schedules_due ON schedules (enabled, next_fire_at);
CREATE INDEX schedules_by_workflow ON schedules (org, workflow_id);

CREATE TABLE schedule_ticks (
    schedule_id TEXT NOT NULL,
    tick_at     REAL NOT NULL,
    run_id      TEXT,
    fired_at    REAL NOT NULL,
    PRIMARY KEY (schedule_id, tick_at)
) WITHOUT ROWID;
