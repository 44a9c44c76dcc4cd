-- The schema that the migration chain produces (a test keeps them equal).
-- Edit by adding a migration, then run scripts/schema-sql.

CREATE TABLE api_keys (
    org        TEXT NOT NULL,
    id         TEXT NOT NULL,
    role       TEXT NOT NULL,
    prefix     TEXT NOT NULL,
    hash       TEXT NOT NULL,
    created_at REAL NOT NULL,
    revoked_at REAL, user_name TEXT,
    PRIMARY KEY (id)
);

CREATE TABLE audit_entries (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    id             TEXT NOT NULL UNIQUE,
    org            TEXT NOT NULL,
    at             REAL NOT NULL,
    actor          TEXT NOT NULL,
    key_id         TEXT,
    user_name      TEXT,
    role           TEXT,
    interface      TEXT NOT NULL,
    address        TEXT,
    verb           TEXT NOT NULL,
    resource_type  TEXT NOT NULL,
    resource_id    TEXT NOT NULL,
    run_id         TEXT,
    version_before INTEGER,
    version_after  INTEGER,
    result         TEXT NOT NULL,
    error          TEXT,
    details        TEXT NOT NULL
);

CREATE TABLE bulkhead_permits (
    org         TEXT NOT NULL,
    name        TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    step        TEXT NOT NULL,
    fence       INTEGER NOT NULL,
    acquired_at REAL NOT NULL,
    PRIMARY KEY (org, name, run_id, step)
);

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

CREATE TABLE concurrency_slots (
    org      TEXT NOT NULL,
    workflow TEXT NOT NULL,
    key      TEXT NOT NULL,
    used     INTEGER NOT NULL,
    PRIMARY KEY (org, workflow, key)
) WITHOUT ROWID;

CREATE TABLE cost_months (
    org   TEXT NOT NULL,
    month TEXT NOT NULL,
    runs  INTEGER NOT NULL,
    PRIMARY KEY (org, month)
) WITHOUT ROWID;

CREATE TABLE cost_totals (
    org      TEXT NOT NULL,
    month    TEXT NOT NULL,
    workflow TEXT NOT NULL,
    currency TEXT NOT NULL,
    runs     INTEGER NOT NULL,
    total    TEXT NOT NULL,
    PRIMARY KEY (org, month, workflow, currency)
) WITHOUT ROWID;

CREATE TABLE debounces (
    org         TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    key         TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    PRIMARY KEY (org, workflow_id, key)
) WITHOUT ROWID;

CREATE TABLE documents (
    org             TEXT NOT NULL,
    noun            TEXT NOT NULL,
    id              TEXT NOT NULL,
    data            TEXT NOT NULL,
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1,
    idempotency_key TEXT,
    PRIMARY KEY (org, id)
);

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

CREATE TABLE events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    org        TEXT NOT NULL,
    id         TEXT NOT NULL,
    type       TEXT NOT NULL,
    data       TEXT NOT NULL,
    source     TEXT NOT NULL,
    run_id     TEXT,
    created_at REAL NOT NULL, runs TEXT, woken TEXT,
    UNIQUE (org, id)
);

CREATE TABLE idempotency_keys (
    org         TEXT NOT NULL,
    key         TEXT NOT NULL,
    operation   TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    token       TEXT NOT NULL,
    result      TEXT,
    locked_at   REAL NOT NULL,
    expires_at  REAL NOT NULL,
    PRIMARY KEY (org, key)
);

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

CREATE TABLE machine_instances (
    org         TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    key         TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    received    INTEGER NOT NULL DEFAULT 0,
    created_at  REAL NOT NULL,
    PRIMARY KEY (org, workflow_id, key)
) WITHOUT ROWID;

CREATE TABLE rate_limits (
    org   TEXT NOT NULL,
    scope TEXT NOT NULL,
    name  TEXT NOT NULL,
    tat   INTEGER NOT NULL,
    admitted INTEGER NOT NULL DEFAULT 0,
    granted  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (org, scope, name)
);

CREATE TABLE retention_leases (
    name       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    expires_at REAL NOT NULL
) WITHOUT ROWID;

CREATE TABLE retention_policies (
    org        TEXT NOT NULL,
    workflow   TEXT NOT NULL,
    policy     TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (org, workflow)
) WITHOUT ROWID;

CREATE TABLE run_costs (
    run_id    TEXT NOT NULL PRIMARY KEY,
    org       TEXT NOT NULL,
    workflow  TEXT NOT NULL,
    month     TEXT NOT NULL,
    volume    INTEGER NOT NULL,
    currency  TEXT NOT NULL,
    total     TEXT NOT NULL,
    items     TEXT NOT NULL,
    priced_at REAL NOT NULL
) WITHOUT ROWID;

CREATE TABLE run_history (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    at     REAL NOT NULL,
    action TEXT NOT NULL,
    actor  TEXT,
    reason TEXT,
    detail TEXT
);

CREATE TABLE run_metrics (
    run_id      TEXT NOT NULL,
    key         TEXT NOT NULL,
    position    INTEGER NOT NULL,
    org         TEXT NOT NULL,
    workflow    TEXT NOT NULL,
    name        TEXT NOT NULL,
    value       REAL NOT NULL,
    labels      TEXT NOT NULL DEFAULT '{}',
    recorded_at REAL NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;

CREATE TABLE run_trees (
    root_run_id TEXT PRIMARY KEY,
    runs        INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE run_values (
    run_id     TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;

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
, workflow_id TEXT, workflow_version INTEGER, event_id TEXT, parent_run_id TEXT, parent_step TEXT, root_run_id TEXT, depth INTEGER NOT NULL DEFAULT 0, outcome TEXT, trace_context TEXT, priority INTEGER NOT NULL DEFAULT 0, concurrency_key TEXT, concurrency_limit INTEGER, slot_wait INTEGER NOT NULL DEFAULT 0, singleton_key TEXT);

CREATE TABLE schedule_ticks (
    schedule_id TEXT NOT NULL,
    tick_at     REAL NOT NULL,
    run_id      TEXT,
    fired_at    REAL NOT NULL,
    PRIMARY KEY (schedule_id, tick_at)
) WITHOUT ROWID;

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
    created_at   REAL NOT NULL, notifications TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (org, id)
) WITHOUT ROWID;

CREATE TABLE secrets (
    org        TEXT NOT NULL,
    name       TEXT NOT NULL,
    sealed     TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (org, name)
);

CREATE TABLE signals (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id     TEXT NOT NULL,
    name       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at REAL NOT NULL,
    step_key   TEXT
);

CREATE TABLE step_attempts (
    run_id     TEXT NOT NULL,
    key        TEXT NOT NULL,
    attempt    INTEGER NOT NULL,
    status     TEXT NOT NULL,
    started_at REAL,
    ended_at   REAL,
    next_at    REAL,
    PRIMARY KEY (run_id, key, attempt)
) WITHOUT ROWID;

CREATE TABLE step_cache (
    org        TEXT NOT NULL,
    scope      TEXT NOT NULL,
    key_hash   TEXT NOT NULL,
    key        TEXT NOT NULL,
    workflow   TEXT NOT NULL,
    step       TEXT NOT NULL,
    output     BLOB NOT NULL,
    run_id     TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    hits       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (org, scope, key_hash)
);

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
    wake_at     REAL, cached INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;

CREATE TABLE "tasks" (
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
    attempt      INTEGER NOT NULL DEFAULT 1,
    completed_via TEXT,
    PRIMARY KEY (org, id),
    UNIQUE (run_id, step_key, attempt)
);

CREATE TABLE webhook_deliveries (
    org        TEXT NOT NULL,
    digest     TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (org, digest)
);

CREATE TABLE webhooks (
    org        TEXT NOT NULL,
    id         TEXT NOT NULL,
    name       TEXT NOT NULL,
    scheme     TEXT NOT NULL,
    secret     TEXT NOT NULL,
    event_type TEXT,
    mapping    TEXT,
    created_at REAL NOT NULL, sealed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (org, id),
    UNIQUE (org, name),
    CHECK ((event_type IS NULL) != (mapping IS NULL))
);

CREATE TABLE workers (
    id           TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    started_at   REAL NOT NULL,
    heartbeat_at REAL NOT NULL
);

CREATE TABLE workflow_triggers (
    org         TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    PRIMARY KEY (org, event_type, workflow_id)
) WITHOUT ROWID;

CREATE TABLE workflow_versions (
    org         TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    version     INTEGER NOT NULL,
    document    TEXT NOT NULL,
    definition  TEXT NOT NULL,
    created_at  REAL NOT NULL,
    PRIMARY KEY (org, workflow_id, version)
) WITHOUT ROWID;

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
    updated_at    REAL NOT NULL, triggers TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (org, id)
) WITHOUT ROWID;

CREATE INDEX api_keys_by_org ON api_keys (org, created_at);

CREATE INDEX api_keys_by_prefix ON api_keys (prefix);

CREATE INDEX audit_entries_at ON audit_entries (at);

CREATE INDEX audit_entries_org ON audit_entries (org, seq);

CREATE INDEX audit_entries_resource ON audit_entries (org, resource_id, seq);

CREATE INDEX audit_entries_run ON audit_entries (org, run_id, seq) WHERE run_id IS NOT NULL;

CREATE INDEX changes_by_org ON changes (org, seq) WHERE org IS NOT NULL;

CREATE INDEX changes_by_run ON changes (run_id, seq) WHERE run_id IS NOT NULL;

CREATE INDEX debounces_by_run ON debounces (run_id);

CREATE INDEX documents_by_noun ON documents (org, noun, created_at);

CREATE UNIQUE INDEX documents_idempotency ON documents (org, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE INDEX event_waits_by_type ON event_waits (org, event_type);

CREATE INDEX events_by_org ON events (org, seq);

CREATE INDEX events_by_type ON events (org, type, seq);

CREATE INDEX events_created ON events (created_at);

CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

CREATE UNIQUE INDEX machine_instances_by_run ON machine_instances (run_id);

CREATE INDEX run_history_of_run ON run_history (run_id, seq);

CREATE INDEX run_metrics_by_workflow ON run_metrics (org, workflow, recorded_at);

CREATE INDEX runs_by_org ON runs (org, created_at DESC);

CREATE INDEX runs_by_org_status ON runs (org, status, created_at DESC);

CREATE INDEX runs_by_workflow ON runs (workflow, created_at DESC);

CREATE INDEX runs_by_workflow_status ON runs (workflow, status, created_at DESC);

CREATE INDEX runs_children ON runs (parent_run_id) WHERE parent_run_id IS NOT NULL;

CREATE INDEX runs_ended ON runs (org, workflow, outcome, finished_at, created_at)
    WHERE finished_at IS NOT NULL;

CREATE INDEX runs_executing ON runs (org, workflow_id) WHERE status IN ('pending', 'running');

CREATE INDEX runs_keyed ON runs (org, workflow, concurrency_key, created_at)
    WHERE concurrency_key IS NOT NULL AND status IN ('pending', 'running', 'waiting');

CREATE INDEX runs_leased ON runs (lease_expires_at) WHERE status = 'running';

CREATE INDEX runs_listing ON runs (created_at DESC);

CREATE INDEX runs_live ON runs (org, workflow, status)
    WHERE status IN ('pending', 'running', 'waiting');

CREATE INDEX runs_owner ON runs (lease_owner) WHERE lease_owner IS NOT NULL;

CREATE INDEX runs_pending ON runs (priority DESC, created_at)
    WHERE status = 'pending' AND slot_wait = 0;

CREATE INDEX runs_singleton ON runs (org, workflow, singleton_key, created_at)
    WHERE singleton_key IS NOT NULL AND status IN ('pending', 'running', 'waiting');

CREATE INDEX runs_slot_wait ON runs (org, workflow, concurrency_key, priority DESC, created_at)
    WHERE slot_wait = 1 AND status IN ('pending', 'waiting');

CREATE INDEX runs_waiting ON runs (wake_at) WHERE status = 'waiting' AND slot_wait = 0;

CREATE INDEX schedule_ticks_by_run ON schedule_ticks (run_id) WHERE run_id IS NOT NULL;

CREATE INDEX schedules_by_workflow ON schedules (org, workflow_id);

CREATE INDEX schedules_due ON schedules (enabled, next_fire_at);

CREATE INDEX signals_by_run ON signals (run_id);

CREATE INDEX signals_unconsumed ON signals (run_id, name, seq) WHERE step_key IS NULL;

CREATE INDEX step_cache_expiry ON step_cache (expires_at);

CREATE INDEX step_cache_workflow ON step_cache (org, workflow);

CREATE INDEX tasks_finished ON tasks (updated_at) WHERE status <> 'open';

CREATE INDEX tasks_inbox ON tasks (org, assignee, status, created_at);

CREATE INDEX tasks_open ON tasks (org, workflow, due_at) WHERE status = 'open';

CREATE INDEX webhook_deliveries_expiry ON webhook_deliveries (expires_at);

CREATE UNIQUE INDEX workflows_by_name ON workflows (org, name);

CREATE TRIGGER audit_entries_append_only BEFORE UPDATE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;

CREATE TRIGGER changes_event_stored AFTER INSERT ON events
BEGIN
    INSERT INTO changes (org, run_id, kind, subject, detail, at)
    VALUES (NEW.org, NULL, 'event', NEW.id, NEW.type, NEW.created_at);
END;

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

CREATE TRIGGER changes_step_moved AFTER UPDATE OF status, attempts ON steps
WHEN OLD.status IS NOT NEW.status OR OLD.attempts IS NOT NEW.attempts
BEGIN
    INSERT INTO changes (run_id, kind, subject, status, detail, attempts, at)
    VALUES (NEW.run_id, 'step', NEW.key, NEW.status, NEW.kind, NEW.attempts,
            COALESCE(NEW.finished_at, NEW.started_at));
END;

CREATE TRIGGER changes_step_recorded AFTER INSERT ON steps
BEGIN
    INSERT INTO changes (run_id, kind, subject, status, detail, attempts, at)
    VALUES (NEW.run_id, 'step', NEW.key, NEW.status, NEW.kind, NEW.attempts,
            COALESCE(NEW.finished_at, NEW.started_at));
END;

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

CREATE TRIGGER step_attempts_first_failed AFTER INSERT ON steps
WHEN NEW.status = 'retrying'
BEGIN
    INSERT OR REPLACE INTO step_attempts
    VALUES (NEW.run_id, NEW.key, NEW.attempts, 'retrying', NEW.started_at, NULL, NEW.wake_at);
END;

CREATE TRIGGER step_attempts_forgotten AFTER DELETE ON steps
WHEN OLD.attempts > 1 OR OLD.status = 'retrying'
BEGIN
    DELETE FROM step_attempts WHERE run_id = OLD.run_id AND key = OLD.key;
END;

CREATE TRIGGER step_attempts_retried AFTER UPDATE OF status, attempts ON steps
WHEN OLD.status = 'retrying' AND NEW.attempts > OLD.attempts
BEGIN
    INSERT OR REPLACE INTO step_attempts
    VALUES (NEW.run_id, NEW.key, NEW.attempts, NEW.status, OLD.wake_at, NEW.finished_at,
            CASE WHEN NEW.status = 'retrying' THEN NEW.wake_at END);
END;
