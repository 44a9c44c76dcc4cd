-- The PostgreSQL text of the named queries of plait.store.trees that differ between the
-- dialects (the others are shared: plait/store/queries/trees.sql). Each block starts with
-- "-- name: NAME".

-- name: tree_cancel_runs
-- (`= ANY(ARRAY(...))` rather than `IN (SELECT ...)`: the planner then uses the index instead of
-- a hash join over every run.)
-- A tree cancel's level: the live runs among :ids (a JSON array); the ended ones are passed
-- through. Each gets the error a cancel records ("run X was cancelled[ by actor]: its parent P
-- was cancelled", or :above when its parent was not cancelled: it ended by itself); their
-- workflows' counters are moved by the caller.
UPDATE runs
SET status = 'cancelled', outcome = 'cancelled', fence = runs.fence + 1, lease_owner = NULL, lease_expires_at = NULL,
    wake_at = NULL, finished_at = :now, updated_at = :now,
    error = convert_to(CAST(json_build_object(
        'type', 'RunCancelled',
        'message', 'run ' || runs.id || ' was cancelled' || CAST(:by AS TEXT) || ': '
                   || why.reason,
        'reason', why.reason,
        'by', CAST(:actor AS TEXT)) AS TEXT), 'UTF8')
FROM (
    SELECT c.id, CASE WHEN p.status = 'cancelled'
                      THEN 'its parent ' || c.parent_run_id || ' was cancelled'
                      ELSE CAST(:above AS TEXT) END AS reason
    FROM runs AS c LEFT JOIN runs AS p ON p.id = c.parent_run_id
    WHERE c.id = ANY(ARRAY(SELECT jsonb_array_elements_text(CAST(:ids AS JSONB))))
) AS why
WHERE runs.id = why.id AND runs.status NOT IN ('succeeded', 'failed', 'cancelled')
RETURNING runs.id, runs.org, runs.workflow_id;

-- name: tree_cancel_history
-- The reason each run's error records (tree_cancel_runs).
INSERT INTO run_history (run_id, at, action, actor, reason, detail)
SELECT id, :now, 'cancel', :actor, CAST(convert_from(error, 'UTF8') AS JSONB) ->> 'reason', '{}'
FROM runs WHERE id = ANY(ARRAY(SELECT jsonb_array_elements_text(CAST(:ids AS JSONB))));

-- name: tree_cancel_tasks
UPDATE tasks SET status = 'cancelled', updated_at = :now
WHERE run_id = ANY(ARRAY(SELECT jsonb_array_elements_text(CAST(:ids AS JSONB))))
  AND status = 'open';

-- name: tree_children
-- The children of the runs :ids (a JSON array), live or ended, by the runs_children index.
SELECT id FROM runs WHERE parent_run_id = ANY(ARRAY(SELECT jsonb_array_elements_text(CAST(:ids AS JSONB))));

-- name: tree_cancelled_above
-- For each run of :ids (a JSON array) with a cancelled run above it, that nearest cancelled
-- ancestor: climbs by primary key through live and ended ancestors (at most the tree's depth).
WITH RECURSIVE up (run_id, ancestor) AS (
    SELECT id, parent_run_id FROM runs
    WHERE id = ANY(ARRAY(SELECT jsonb_array_elements_text(CAST(:ids AS JSONB)))) AND parent_run_id IS NOT NULL
    UNION
    SELECT up.run_id, a.parent_run_id FROM up JOIN runs AS a ON a.id = up.ancestor
    WHERE a.status <> 'cancelled' AND a.parent_run_id IS NOT NULL
)
SELECT up.run_id, up.ancestor FROM up JOIN runs AS a ON a.id = up.ancestor
WHERE a.status = 'cancelled';
