-- Business metrics (brief 001 `metrics`, brief 002 `Metric.record`): each value a run recorded
-- (`ctx.metric`, a definition step's `metrics`, the `metric` action), keyed by the run and the
-- key of its record in the run's history, so a replay or a resume after a crash never stores
-- one twice; `position` is that record's position (a run's measurements in the order recorded).
-- `labels` is the canonical JSON object of its labels (`{}` without).
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
CREATE INDEX run_metrics_by_workflow ON run_metrics (org, workflow, recorded_at);
