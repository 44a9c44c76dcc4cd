-- Long-running processes: child runs, signals and published state, human tasks,
-- state-machine instances, and the history of operations on runs.

-- children ----------------------------------------------------------------------------------
-- A child run knows its parent and the parent's step that started it: a child that ends wakes
-- its parent, and cancelling a parent cancels its children.
ALTER TABLE runs ADD COLUMN parent_run_id TEXT;
ALTER TABLE runs ADD COLUMN parent_step TEXT;
CREATE INDEX runs_children ON runs (parent_run_id) WHERE parent_run_id IS NOT NULL;

-- signals and published state -----------------------------------------------------------------
-- Messages to one run, queued in order; `step_key` is the receive step that consumed one.
CREATE TABLE signals (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id     TEXT NOT NULL,
    name       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at REAL NOT NULL,
    step_key   TEXT
);
CREATE INDEX signals_unconsumed ON signals (run_id, name, seq) WHERE step_key IS NULL;

-- `ctx.set_state(key, value)`: values a run publishes while it executes.
CREATE TABLE run_values (
    run_id     TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;

-- human tasks ----------------------------------------------------------------------------------
CREATE TABLE tasks (
    org          TEXT NOT NULL,
    id           TEXT NOT NULL,
    run_id       TEXT NOT NULL,
    step_key     TEXT NOT NULL,
    workflow     TEXT NOT NULL,
    title        TEXT NOT NULL,
    description  TEXT,
    assignee     TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('open', 'completed', 'expired', 'cancelled')),
    choices      TEXT,
    form         TEXT,
    data         TEXT,
    due_at       REAL,
    escalate_at  REAL,
    escalate_to  TEXT,
    escalated_at REAL,
    escalated_from TEXT,
    decision     TEXT,
    comment      TEXT,
    response     TEXT,
    completed_by TEXT,
    completed_at REAL,
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL,
    PRIMARY KEY (org, id),
    UNIQUE (run_id, step_key)
);
CREATE INDEX tasks_inbox ON tasks (org, assignee, status, created_at);

-- state machines -------------------------------------------------------------------------------
-- One run per (workflow, correlation key): events routed by the key drive its transitions.
-- `received` numbers the events delivered to the instance (1, 2, ...), gapless and in commit
-- order because each delivery updates this row; the run consumes its inbox in that order.
CREATE TABLE machine_instances (
    org         TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    key         TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    received    INTEGER NOT NULL DEFAULT 0,
    created_at  REAL NOT NULL,
    PRIMARY KEY (org, workflow_id, key)
) WITHOUT ROWID;
CREATE UNIQUE INDEX machine_instances_by_run ON machine_instances (run_id);

-- The events delivered to an instance, numbered per run; an event id is delivered once.
CREATE TABLE machine_inbox (
    run_id     TEXT NOT NULL,
    n          INTEGER NOT NULL,
    event_id   TEXT NOT NULL,
    type       TEXT NOT NULL,
    data       TEXT NOT NULL,
    source     TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (run_id, n),
    UNIQUE (run_id, event_id)
) WITHOUT ROWID;

-- operations -----------------------------------------------------------------------------------
-- Who did what to a run (cancel, resume, fork, retry) and when.
CREATE TABLE run_history (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    at     REAL NOT NULL,
    action TEXT NOT NULL,
    actor  TEXT,
    reason TEXT,
    detail TEXT
);
CREATE INDEX run_history_of_run ON run_history (run_id, seq);
