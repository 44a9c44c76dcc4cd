-- Named queries of plait.store.steps, the same in both dialects: a run's steps a window at a
-- time. Windows pick their keys by position first and read the rows by key after, so the
-- values (which may be large) of the steps outside the window are never read.

-- name: run_step_outline
-- Every step of a run by its key, place, kind and status only, with the values of the records
-- the run document reads (progress reports, a machine's state, contexts, why a step was
-- skipped, the trigger event) and nothing else.
SELECT key, position, kind, status,
       CASE WHEN kind IN ('progress', 'machine', 'transition', 'rejected', 'context')
                 OR status = 'skipped' OR key = :event_key THEN output END
FROM steps WHERE run_id = :run_id ORDER BY position;

-- name: step_window
SELECT key, position, name, kind, status, attempts, output, error, started_at, finished_at,
       wake_at, cached
FROM steps
WHERE run_id = :run_id
  AND key IN (SELECT key FROM steps WHERE run_id = :run_id AND position >= :start
              ORDER BY position LIMIT :limit)
ORDER BY position;

-- name: step_window_start_before
-- Where the window of :limit steps that ends before position :start begins.
SELECT MIN(position) FROM (
    SELECT position FROM steps WHERE run_id = :run_id AND position >= 0 AND position < :start
    ORDER BY position DESC LIMIT :limit
) AS earlier;

-- name: step_count
-- How many steps the run recorded, and where its last window of :limit steps starts.
SELECT (SELECT COUNT(*) FROM steps WHERE run_id = :run_id AND position >= 0),
       (SELECT MIN(position) FROM (
            SELECT position FROM steps WHERE run_id = :run_id AND position >= 0
            ORDER BY position DESC LIMIT :limit
        ) AS latest);

-- name: step_of_run
SELECT key, position, name, kind, status, attempts, output, error, started_at, finished_at,
       wake_at, cached
FROM steps WHERE run_id = :run_id AND key = :key;

-- name: step_attempts_of_run
-- The attempts of the run's retried steps (migration 022's triggers write them).
SELECT key, attempt, status, started_at, ended_at, next_at FROM step_attempts
WHERE run_id = :run_id ORDER BY key, attempt;
