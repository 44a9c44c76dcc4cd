-- Named queries of plait.store.trees, the same in both dialects. Each block starts with
-- "-- name: NAME"; a dialect's queries/trees.sql replaces a query of the same name.

-- name: cancel_run
UPDATE runs
SET status = 'cancelled', outcome = 'cancelled', fence = fence + 1, lease_owner = NULL, lease_expires_at = NULL,
    wake_at = NULL, finished_at = :now, updated_at = :now, error = :error
WHERE id = :run_id AND status NOT IN ('succeeded', 'failed', 'cancelled');

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
