-- The workflow registry: stored workflows, their immutable versions, what triggers them, runs
-- waiting for events, and debounced triggers.
CREATE TABLE workflows (
    org           TEXT NOT NULL,
    id            TEXT NOT NULL,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    status        TEXT NOT NULL,
    version       INTEGER NOT NULL,
    document      TEXT NOT NULL,
    running       INTEGER NOT NULL DEFAULT 0,
    run_count     INTEGER NOT NULL DEFAULT 0,
    success_count INTEGER NOT NULL DEFAULT 0,
    failure_count INTEGER NOT NULL DEFAULT 0,
    last_run_at   REAL,
    created_at    REAL NOT NULL,
    updated_at    REAL NOT NULL,
    PRIMARY KEY (org, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX workflows_by_name ON workflows (org, name);

CREATE TABLE workflow_versions (
    org         TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    version     INTEGER NOT NULL,
    document    TEXT NOT NULL,
    definition  TEXT NOT NULL,
    created_at  REAL NOT NULL,
    PRIMARY KEY (org, workflow_id, version)
) WITHOUT ROWID;

CREATE TABLE workflow_triggers (
    org         TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    PRIMARY KEY (org, event_type, workflow_id)
) WITHOUT ROWID;

CREATE TABLE event_waits (
    org        TEXT NOT NULL,
    event_type TEXT NOT NULL,
    run_id     TEXT NOT NULL,
    step_key   TEXT NOT NULL,
    match      TEXT,
    scope      TEXT,
    created_at REAL NOT NULL,
    PRIMARY KEY (run_id, step_key)
) WITHOUT ROWID;
CREATE INDEX event_waits_by_type ON event_waits (org, event_type);

CREATE TABLE debounces (
    org         TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    key         TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    PRIMARY KEY (org, workflow_id, key)
) WITHOUT ROWID;

ALTER TABLE runs ADD COLUMN workflow_id TEXT;
ALTER TABLE runs ADD COLUMN workflow_version INTEGER;
ALTER TABLE runs ADD COLUMN event_id TEXT;
CREATE INDEX runs_by_org ON runs (org, created_at DESC);
