-- The SQLite text of the named queries of plait.store.trees that differ between the
-- dialects (the others are shared: plait/store/queries/trees.sql). Each block starts with
-- "-- name: NAME".

-- name: tree_cancel_runs
-- A tree cancel's level: the live runs among :ids (a JSON array); the ended ones are passed
-- through. Each gets the error a cancel records ("run X was cancelled[ by actor]: its parent P
-- was cancelled", or :above when its parent was not cancelled: it ended by itself); their
-- workflows' counters are moved by the caller.
UPDATE runs
SET status = 'cancelled', outcome = 'cancelled', fence = fence + 1, lease_owner = NULL, lease_expires_at = NULL,
    wake_at = NULL, finished_at = :now, updated_at = :now,
    error = CAST(json_object(
        'type', 'RunCancelled',
        'message', 'run ' || runs.id || ' was cancelled' || :by || ': ' || why.reason,
        'reason', why.reason,
        'by', :actor) AS BLOB)
FROM (
    SELECT c.id, CASE WHEN p.status = 'cancelled'
                      THEN 'its parent ' || c.parent_run_id || ' was cancelled'
                      ELSE :above END AS reason
    FROM runs AS c LEFT JOIN runs AS p ON p.id = c.parent_run_id
    WHERE c.id IN (SELECT value FROM json_each(:ids))
) AS why
WHERE runs.id = why.id AND runs.status NOT IN ('succeeded', 'failed', 'cancelled')
RETURNING runs.id, runs.org, runs.workflow_id;

-- name: tree_cancel_history
-- The reason each run's error records (tree_cancel_runs).
INSERT INTO run_history (run_id, at, action, actor, reason, detail)
SELECT id, :now, 'cancel', :actor, json_extract(CAST(error AS TEXT), '$.reason'), '{}'
FROM runs WHERE id IN (SELECT value FROM json_each(:ids));

-- name: tree_cancel_tasks
UPDATE tasks SET status = 'cancelled', updated_at = :now
WHERE run_id IN (SELECT value FROM json_each(:ids)) AND status = 'open';

-- name: tree_children
-- The children of the runs :ids (a JSON array), live or ended, by the runs_children index.
SELECT id FROM runs WHERE parent_run_id IN (SELECT value FROM json_each(:ids));

-- name: tree_cancelled_above
-- For each run of :ids (a JSON array) with a cancelled run above it, that nearest cancelled
-- ancestor: climbs by primary key through live and ended ancestors (at most the tree's depth).
WITH RECURSIVE up (run_id, ancestor) AS (
    SELECT id, parent_run_id FROM runs
    WHERE id IN (SELECT value FROM json_each(:ids)) AND parent_run_id IS NOT NULL
    UNION
    SELECT up.run_id, a.parent_run_id FROM up JOIN runs AS a ON a.id = up.ancestor
    WHERE a.status <> 'cancelled' AND a.parent_run_id IS NOT NULL
)
SELECT up.run_id, up.ancestor FROM up JOIN runs AS a ON a.id = up.ancestor
WHERE a.status = 'cancelled';
