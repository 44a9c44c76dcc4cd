-- Named queries of plait.store.overview. The windows end at :now; :day and :hour are their
-- starts. Every read of runs goes through the partial index runs_ended (org, workflow, outcome,
-- finished_at, created_at) of ended runs: the organization's workflows are found by a loose
-- index scan (one seek per workflow, however many runs each has), and each (workflow, outcome)
-- is counted as a range of its window, so the cost follows the window's runs only. A slot of
-- a window is CAST(... AS INTEGER), which truncates on SQLite (PostgreSQL's file floors).

-- name: overview_counts
-- Runs that ended in the last day and in the last hour, by workflow and outcome.
WITH RECURSIVE named(workflow) AS (
    SELECT MIN(workflow) FROM runs WHERE org = :org AND finished_at IS NOT NULL
    UNION ALL
    SELECT (SELECT MIN(r.workflow) FROM runs r
            WHERE r.org = :org AND r.finished_at IS NOT NULL AND r.workflow > named.workflow)
    FROM named WHERE named.workflow IS NOT NULL
), outcomes(outcome) AS (
    VALUES ('succeeded'), ('partial'), ('failed'), ('cancelled')
)
SELECT n.workflow, o.outcome,
       (SELECT COUNT(*) FROM runs r
        WHERE r.org = :org AND r.workflow = n.workflow AND r.outcome = o.outcome
          AND r.finished_at >= :day AND r.finished_at IS NOT NULL) AS day,
       (SELECT COUNT(*) FROM runs r
        WHERE r.org = :org AND r.workflow = n.workflow AND r.outcome = o.outcome
          AND r.finished_at >= :hour AND r.finished_at IS NOT NULL) AS hour
FROM named n CROSS JOIN outcomes o
WHERE n.workflow IS NOT NULL;

-- name: overview_failures
-- Runs that failed in the last day, by workflow and hour (0 to 23).
WITH RECURSIVE named(workflow) AS (
    SELECT MIN(workflow) FROM runs WHERE org = :org AND finished_at IS NOT NULL
    UNION ALL
    SELECT (SELECT MIN(r.workflow) FROM runs r
            WHERE r.org = :org AND r.finished_at IS NOT NULL AND r.workflow > named.workflow)
    FROM named WHERE named.workflow IS NOT NULL
)
SELECT r.workflow, 'failed', CAST((r.finished_at - :day) / 3600 AS INTEGER) AS slot, COUNT(*)
FROM named n JOIN runs r
  ON r.org = :org AND r.workflow = n.workflow AND r.outcome = 'failed'
     AND r.finished_at >= :day AND r.finished_at IS NOT NULL
GROUP BY r.workflow, slot;

-- name: overview_minutes
-- Runs that ended in the last hour, by workflow, outcome and minute (0 to 59); CROSS JOIN keeps
-- SQLite's join order: each (workflow, outcome) is one range of the index.
WITH RECURSIVE named(workflow) AS (
    SELECT MIN(workflow) FROM runs WHERE org = :org AND finished_at IS NOT NULL
    UNION ALL
    SELECT (SELECT MIN(r.workflow) FROM runs r
            WHERE r.org = :org AND r.finished_at IS NOT NULL AND r.workflow > named.workflow)
    FROM named WHERE named.workflow IS NOT NULL
), outcomes(outcome) AS (
    VALUES ('succeeded'), ('partial'), ('failed'), ('cancelled')
)
SELECT r.workflow, r.outcome, CAST((r.finished_at - :hour) / 60 AS INTEGER) AS slot, COUNT(*)
FROM named n CROSS JOIN outcomes o CROSS JOIN runs r
WHERE r.org = :org AND r.workflow = n.workflow AND r.outcome = o.outcome
  AND r.finished_at >= :hour AND r.finished_at IS NOT NULL
GROUP BY r.workflow, r.outcome, slot;

-- name: overview_top_durations
-- SQLite: the longest durations of one workflow's runs ended in the last day, as many as its
-- p95 needs (the sorter keeps only :top rows; the caller interpolates).
SELECT finished_at - created_at AS seconds FROM runs
WHERE org = :org AND workflow = :workflow
  AND outcome IN ('succeeded', 'partial', 'failed', 'cancelled')
  AND finished_at >= :day AND finished_at IS NOT NULL
ORDER BY seconds DESC
LIMIT :top;

-- name: overview_live
-- Runs pending, running and waiting now, from the partial index runs_live (unfinished rows).
SELECT workflow, status, COUNT(*) FROM runs
WHERE org = :org AND status IN ('pending', 'running', 'waiting')
GROUP BY workflow, status;

-- name: overview_tasks
-- Open tasks and those of them past their due time, from the partial index tasks_open.
SELECT workflow, COUNT(*), SUM(CASE WHEN due_at < :now THEN 1 ELSE 0 END) FROM tasks
WHERE org = :org AND status = 'open'
GROUP BY workflow;

-- name: overview_registry
-- The organization's stored workflows (the primary key's range), without their documents.
SELECT id, name, status, last_run_at FROM workflows WHERE org = :org ORDER BY name, id;

-- name: page_event_entries
-- A page of the organization's events, newest first (by seq), before the previous page's last
-- (:after_seq; the first page: the largest seq), with the runs each started (runs) and woke
-- (woken): a backward range of events_by_org, no sort.
SELECT seq, id, org, type, data, source, run_id, created_at, runs, woken FROM events
WHERE org = :org AND seq < :after_seq
ORDER BY seq DESC
LIMIT :limit;

-- name: page_event_entries_typed
-- The same, of one type: a backward range of events_by_type (org, type, seq), no sort.
SELECT seq, id, org, type, data, source, run_id, created_at, runs, woken FROM events
WHERE org = :org AND type = :type AND seq < :after_seq
ORDER BY seq DESC
LIMIT :limit;

-- name: page_event_entries_prefix
-- The same, of every type in [:low, :high) (the types starting with a prefix: an index range of
-- events_by_type).
SELECT seq, id, org, type, data, source, run_id, created_at, runs, woken FROM events
WHERE org = :org AND type >= :low AND type < :high AND seq < :after_seq
ORDER BY seq DESC
LIMIT :limit;
