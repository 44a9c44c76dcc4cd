-- Runs, their recorded steps, and live workers.
CREATE TABLE runs (
    id               TEXT PRIMARY KEY,
    org              TEXT NOT NULL DEFAULT 'default',
    workflow         TEXT NOT NULL,
    status           TEXT NOT NULL,
    input            BLOB NOT NULL,
    output           BLOB,
    error            BLOB,
    trigger          TEXT NOT NULL DEFAULT 'api',
    created_at       REAL NOT NULL,
    started_at       REAL,
    finished_at      REAL,
    updated_at       REAL NOT NULL,
    wake_at          REAL,
    deadline_at      REAL,
    lease_owner      TEXT,
    lease_expires_at REAL,
    fence            INTEGER NOT NULL DEFAULT 0,
    executions       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_pending ON runs (created_at) WHERE status = 'pending';
CREATE INDEX runs_waiting ON runs (wake_at) WHERE status = 'waiting';
CREATE INDEX runs_leased ON runs (lease_expires_at) WHERE status = 'running';
CREATE INDEX runs_owner ON runs (lease_owner) WHERE lease_owner IS NOT NULL;
CREATE INDEX runs_listing ON runs (created_at DESC);
CREATE INDEX runs_by_workflow ON runs (workflow, created_at DESC);

CREATE TABLE steps (
    run_id      TEXT NOT NULL,
    key         TEXT NOT NULL,
    position    INTEGER NOT NULL,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    output      BLOB,
    error       BLOB,
    started_at  REAL,
    finished_at REAL,
    wake_at     REAL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;

CREATE TABLE workers (
    id           TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    started_at   REAL NOT NULL,
    heartbeat_at REAL NOT NULL
);
