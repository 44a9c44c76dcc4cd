-- Retention (plait.service.retention): how long each organization and workflow keeps its ended
-- runs, and the lease that lets one pruner at a time delete them.
-- retention_policies: one row per organization (workflow '') and per workflow name that has its
-- own policy; policy is a JSON object (maxAgeDays, maxRuns, statuses: {outcome: {...}}).
CREATE TABLE retention_policies (
    org        TEXT NOT NULL,
    workflow   TEXT NOT NULL,
    policy     TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (org, workflow)
) WITHOUT ROWID;
-- retention_leases: the pruner that holds the lease named 'runs' deletes; the others skip their
-- pass. A lease whose holder died expires at expires_at and is taken over.
CREATE TABLE retention_leases (
    name       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    expires_at REAL NOT NULL
) WITHOUT ROWID;
-- The retention of events and of finished tasks deletes the oldest first, as index ranges;
-- deleting a run deletes its signals and its debounce by run id.
CREATE INDEX events_created ON events (created_at);
CREATE INDEX tasks_finished ON tasks (updated_at) WHERE status <> 'open';
CREATE INDEX signals_by_run ON signals (run_id);
CREATE INDEX debounces_by_run ON debounces (run_id);
