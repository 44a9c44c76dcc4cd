-- Named queries of plait.store.business_metrics only PostgreSQL runs: its own percentiles.

-- name: metric_aggregates
-- The sum and mean in NUMERIC: float8's overflow past 1.8e308 is an error, and a sum that large
-- is read back as infinite instead (as SQLite's).
SELECT name, CASE WHEN :by_labels = 1 THEN labels ELSE '{}' END AS grouped, COUNT(*),
       SUM(CAST(value AS NUMERIC)), AVG(CAST(value AS NUMERIC)), percentile_cont(0.5) WITHIN GROUP (ORDER BY value),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY value), MIN(value), MAX(value)
FROM run_metrics
WHERE org = :org AND workflow = :workflow AND recorded_at >= :since AND recorded_at <= :until
  AND (CAST(:name AS TEXT) IS NULL OR name = :name)
GROUP BY name, grouped ORDER BY name, grouped;

-- name: run_durations
SELECT COUNT(*), AVG(finished_at - created_at),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY finished_at - created_at),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY finished_at - created_at)
FROM runs
WHERE org = :org AND workflow = :workflow AND created_at >= :since AND created_at <= :until
  AND finished_at IS NOT NULL;
