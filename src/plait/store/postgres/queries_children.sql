-- Named queries of the children area. Each block starts with "-- name: NAME".

-- children ------------------------------------------------------------------------------------

-- name: child_insert_run
-- The child's id is derived from its parent's id and step, so a replayed start inserts nothing.
INSERT INTO runs (id, org, workflow, status, input, trigger, created_at, updated_at, deadline_at,
                  workflow_id, workflow_version, parent_run_id, parent_step, root_run_id, depth)
VALUES (:id, :org, :workflow, 'pending', :input, 'child', :now, :now, :deadline_at,
        :workflow_id, :workflow_version, :parent_run_id, :parent_step, :root_run_id, :depth)
ON CONFLICT (id) DO NOTHING;

-- name: child_start_of
-- The start a parent's step recorded already: a replayed start keeps its child.
SELECT output FROM steps
WHERE run_id = :run_id AND key = :key AND kind = 'child' AND status = 'completed';

-- name: child_exists
SELECT 1 FROM runs WHERE id = :id;

-- name: child_attempts
-- How many children a parent's step has started (a resumed step starts one more).
SELECT COUNT(*) FROM runs WHERE parent_run_id = :parent_run_id AND parent_step = :parent_step;

-- name: child_outcome
SELECT status, output, error, workflow FROM runs WHERE id = :run_id;

-- name: child_parent
SELECT parent_run_id FROM runs WHERE id = :run_id;

-- name: child_runs_of
SELECT id FROM runs WHERE parent_run_id = :run_id ORDER BY created_at, id;

-- run trees (migration 012) -------------------------------------------------------------------

-- name: tree_of_run
-- The root of the run's tree (a root's own id) and the run's depth below it.
SELECT COALESCE(root_run_id, id), depth FROM runs WHERE id = :run_id;

-- name: tree_take_place
-- One more run in the tree, unless it holds :max_runs already (no row returned then). A tree
-- without a row holds only its root. The upsert locks the tree's row until commit.
INSERT INTO run_trees (root_run_id, runs) VALUES (:root_run_id, 2)
ON CONFLICT (root_run_id) DO UPDATE SET runs = run_trees.runs + 1
WHERE run_trees.runs < :max_runs
RETURNING runs;

-- name: tree_size
SELECT runs FROM run_trees WHERE root_run_id = :root_run_id;

-- name: tree_cancel_runs
-- (`= ANY(ARRAY(...))` rather than `IN (SELECT ...)`: the planner then uses the index instead of
-- a hash join over every run.)
-- A tree cancel's level: the live runs among :ids (a JSON array); the ended ones are passed
-- through. Each gets the error a cancel records ("run X was cancelled[ by actor]: its parent P
-- was cancelled", or :above when its parent was not cancelled: it ended by itself); their
-- workflows' counters are moved by the caller.
UPDATE runs
SET status = 'cancelled', fence = runs.fence + 1, lease_owner = NULL, lease_expires_at = NULL,
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

-- signals -------------------------------------------------------------------------------------

-- name: signal_run_status
-- Locks the run's row: a signal and a receive of one run never interleave.
SELECT status FROM runs WHERE id = :run_id FOR UPDATE;

-- name: signal_hold_run
-- Fenced: touches the run's row only while the caller holds it.
UPDATE runs SET updated_at = updated_at
WHERE id = :run_id AND fence = :fence AND status = 'running';

-- name: signal_insert
INSERT INTO signals (run_id, name, payload, created_at) VALUES (:run_id, :name, :payload, :now)
RETURNING seq;

-- name: signal_waiting_receive
SELECT key FROM steps
WHERE run_id = :run_id AND kind = 'receive' AND name = :name AND status = 'waiting'
ORDER BY position
LIMIT 1;

-- name: signal_oldest
SELECT seq, payload FROM signals
WHERE run_id = :run_id AND name = :name AND step_key IS NULL
ORDER BY seq
LIMIT 1;

-- name: signal_consume
UPDATE signals SET step_key = :step_key WHERE seq = :seq;

-- name: signal_complete_receive
UPDATE steps SET status = 'completed', output = :output, attempts = 1, finished_at = :now
WHERE run_id = :run_id AND key = :step_key AND status = 'waiting';

-- name: signal_receive_output
SELECT output FROM steps WHERE run_id = :run_id AND key = :step_key;

-- published state -----------------------------------------------------------------------------

-- name: state_upsert
INSERT INTO run_values (run_id, key, value, updated_at) VALUES (:run_id, :key, :value, :now)
ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at;

-- name: state_of_run
SELECT key, value FROM run_values WHERE run_id = :run_id ORDER BY key;
