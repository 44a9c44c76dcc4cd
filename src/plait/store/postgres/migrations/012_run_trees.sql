-- Run trees (child workflows): every run knows the root of its tree and its depth below it, and
-- one counter row per tree counts the tree's runs, so that starting a child checks
-- Settings.max_run_tree_depth and max_run_tree_runs in constant time.
--
-- `root_run_id` is NULL for a run that is its own root (every run not started as a child: the
-- inserts of manual, event, schedule, fork and retry runs need not know about trees). A child
-- gets its parent's root (or its parent, when the parent is a root) and the parent's depth + 1.
ALTER TABLE runs ADD COLUMN root_run_id TEXT;
ALTER TABLE runs ADD COLUMN depth INTEGER NOT NULL DEFAULT 0;

-- How many runs each tree holds, its root included; a tree gets its row when its first child
-- starts. The row is updated in the transaction that inserts a child, conditionally on the
-- bound: its row lock makes concurrent workers take places one at a time, so they cannot both
-- take the last one (see store/trees.py).
CREATE TABLE run_trees (
    root_run_id TEXT PRIMARY KEY,
    runs        INTEGER NOT NULL
);

-- Existing runs: walk down from every root (a run without a parent, or whose parent is gone);
-- a recursive CTE is evaluated iteratively, however deep the tree.
CREATE TEMP TABLE run_tree_backfill ON COMMIT DROP AS
WITH RECURSIVE tree (id, root_run_id, depth) AS (
    SELECT r.id, r.id, 0 FROM runs r
    WHERE r.parent_run_id IS NULL
       OR NOT EXISTS (SELECT 1 FROM runs p WHERE p.id = r.parent_run_id)
    UNION ALL
    SELECT c.id, t.root_run_id, t.depth + 1
    FROM runs c JOIN tree t ON c.parent_run_id = t.id
)
SELECT id, root_run_id, depth FROM tree WHERE depth > 0;

UPDATE runs SET root_run_id = b.root_run_id, depth = b.depth
FROM run_tree_backfill b WHERE b.id = runs.id;

INSERT INTO run_trees (root_run_id, runs)
SELECT root_run_id, COUNT(*) + 1 FROM run_tree_backfill GROUP BY root_run_id;
