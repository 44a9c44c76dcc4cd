-- Business metrics (PostgreSQL twin of the SQLite migration): each value a run recorded, keyed
-- by the run and the key of its record in the run's history (a replay never stores one twice).
CREATE TABLE run_metrics (
    run_id      TEXT NOT NULL,
    key         TEXT NOT NULL,
    position    INTEGER NOT NULL,
    org         TEXT NOT NULL,
    workflow    TEXT NOT NULL,
    name        TEXT NOT NULL,
    value       DOUBLE PRECISION NOT NULL,
    labels      TEXT NOT NULL DEFAULT '{}',
    recorded_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (run_id, key)
);
CREATE INDEX run_metrics_by_workflow ON run_metrics (org, workflow, recorded_at);
