-- Retention (PostgreSQL twin of the SQLite migration; see it for the columns): policies of
-- organizations and workflows, the pruner's lease, and the indexes of the events' and finished
-- tasks' retention.
CREATE TABLE retention_policies (
    org        TEXT NOT NULL,
    workflow   TEXT NOT NULL,
    policy     TEXT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (org, workflow)
);
CREATE TABLE retention_leases (
    name       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX events_created ON events (created_at);
CREATE INDEX tasks_finished ON tasks (updated_at) WHERE status <> 'open';
CREATE INDEX signals_by_run ON signals (run_id);
CREATE INDEX debounces_by_run ON debounces (run_id);
