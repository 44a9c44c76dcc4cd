-- PostgreSQL's queries of plait.store.overview: slots floored (CAST rounds here), and the p95
-- duration of each workflow computed by the database, one index range per workflow.

-- name: overview_failures
WITH RECURSIVE named(workflow) AS (
    SELECT MIN(workflow) FROM runs WHERE org = :org AND finished_at IS NOT NULL
    UNION ALL
    SELECT (SELECT MIN(r.workflow) FROM runs r
            WHERE r.org = :org AND r.finished_at IS NOT NULL AND r.workflow > named.workflow)
    FROM named WHERE named.workflow IS NOT NULL
)
SELECT r.workflow, 'failed', FLOOR((r.finished_at - :day) / 3600) AS slot, COUNT(*)
FROM named n JOIN runs r
  ON r.org = :org AND r.workflow = n.workflow AND r.outcome = 'failed'
     AND r.finished_at >= :day AND r.finished_at IS NOT NULL
GROUP BY r.workflow, slot;

-- name: overview_minutes
WITH RECURSIVE named(workflow) AS (
    SELECT MIN(workflow) FROM runs WHERE org = :org AND finished_at IS NOT NULL
    UNION ALL
    SELECT (SELECT MIN(r.workflow) FROM runs r
            WHERE r.org = :org AND r.finished_at IS NOT NULL AND r.workflow > named.workflow)
    FROM named WHERE named.workflow IS NOT NULL
), outcomes(outcome) AS (
    VALUES ('succeeded'), ('partial'), ('failed'), ('cancelled')
)
SELECT r.workflow, r.outcome, FLOOR((r.finished_at - :hour) / 60) AS slot, COUNT(*)
FROM named n CROSS JOIN outcomes o CROSS JOIN runs r
WHERE r.org = :org AND r.workflow = n.workflow AND r.outcome = o.outcome
  AND r.finished_at >= :hour AND r.finished_at IS NOT NULL
GROUP BY r.workflow, r.outcome, slot;

-- name: overview_p95
WITH RECURSIVE named(workflow) AS (
    SELECT MIN(workflow) FROM runs WHERE org = :org AND finished_at IS NOT NULL
    UNION ALL
    SELECT (SELECT MIN(r.workflow) FROM runs r
            WHERE r.org = :org AND r.finished_at IS NOT NULL AND r.workflow > named.workflow)
    FROM named WHERE named.workflow IS NOT NULL
)
SELECT n.workflow,
       (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY r.finished_at - r.created_at)
        FROM runs r
        WHERE r.org = :org AND r.workflow = n.workflow
          AND r.outcome IN ('succeeded', 'partial', 'failed', 'cancelled')
          AND r.finished_at >= :day AND r.finished_at IS NOT NULL) AS p95
FROM named n
WHERE n.workflow IS NOT NULL;
