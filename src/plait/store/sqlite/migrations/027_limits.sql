-- Flow limits shared by every worker (docs/flow-control.md): rate limits, bulkheads and
-- circuit breakers, each per organization.

-- A rate limit's state under GCRA, in integer nanoseconds since the epoch (exact: float seconds
-- would drift by a few microseconds over a few reservations and let a call in at a window's
-- edge): `tat`, the theoretical arrival time of the next turn handed out (callers queue for
-- turns and wait, suspended, for theirs); `admitted`, that of the calls actually let through,
-- checked again when a call proceeds, so that calls that woke late never bunch up; `granted`,
-- whether the last reservation let its call through at once (what the upsert returns). `scope` is
-- `action` (a step's limit, by its name) or `workflow` (a workflow's start throttle, by its
-- name and key).
CREATE TABLE rate_limits (
    org   TEXT NOT NULL,
    scope TEXT NOT NULL,
    name  TEXT NOT NULL,
    tat   INTEGER NOT NULL,
    admitted INTEGER NOT NULL DEFAULT 0,
    granted  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (org, scope, name)
);

-- The permits of each bulkhead, held by a step of a run under the fence its worker runs it
-- with: a permit whose run no longer runs under that fence (its lease expired: the worker
-- crashed) is free.
CREATE TABLE bulkhead_permits (
    org         TEXT NOT NULL,
    name        TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    step        TEXT NOT NULL,
    fence       INTEGER NOT NULL,
    acquired_at REAL NOT NULL,
    PRIMARY KEY (org, name, run_id, step)
);

-- A circuit breaker's state: `failures` since `window_start` while closed; while open, calls
-- are refused until `half_open_at`; half-open, one `probe` (a run's step) at a time is let
-- through, until `probe_expires`. `opens` counts how often it opened.
CREATE TABLE circuits (
    org           TEXT NOT NULL,
    name          TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('closed', 'open', 'half-open')),
    failures      INTEGER NOT NULL,
    window_start  REAL,
    opened_at     REAL,
    half_open_at  REAL,
    probe         TEXT,
    probe_expires REAL,
    opens         INTEGER NOT NULL,
    last_error    TEXT,
    updated_at    REAL NOT NULL,
    PRIMARY KEY (org, name)
);
