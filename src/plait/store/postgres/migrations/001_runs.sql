-- Runs, their recorded steps, and live workers (PostgreSQL twin of the SQLite migration).
--
-- Types follow the SQLite schema. Times are Unix seconds (DOUBLE PRECISION, as SQLite REAL),
-- integers are BIGINT (SQLite integers are 64-bit), and the opaque JSON payloads that the store
-- passes as bytes (run input, output and error, step output and error) are BYTEA.
CREATE TABLE runs (
    id               TEXT PRIMARY KEY,
    org              TEXT NOT NULL DEFAULT 'default',
    workflow         TEXT NOT NULL,
    status           TEXT NOT NULL,
    input            BYTEA NOT NULL,
    output           BYTEA,
    error            BYTEA,
    trigger          TEXT NOT NULL DEFAULT 'api',
    created_at       DOUBLE PRECISION NOT NULL,
    started_at       DOUBLE PRECISION,
    finished_at      DOUBLE PRECISION,
    updated_at       DOUBLE PRECISION NOT NULL,
    wake_at          DOUBLE PRECISION,
    deadline_at      DOUBLE PRECISION,
    lease_owner      TEXT,
    lease_expires_at DOUBLE PRECISION,
    fence            BIGINT NOT NULL DEFAULT 0,
    executions       BIGINT NOT NULL DEFAULT 0
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
    position    BIGINT NOT NULL,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    output      BYTEA,
    error       BYTEA,
    started_at  DOUBLE PRECISION,
    finished_at DOUBLE PRECISION,
    wake_at     DOUBLE PRECISION,
    PRIMARY KEY (run_id, key)
);

CREATE TABLE workers (
    id           TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          BIGINT NOT NULL,
    started_at   DOUBLE PRECISION NOT NULL,
    heartbeat_at DOUBLE PRECISION NOT NULL
);
