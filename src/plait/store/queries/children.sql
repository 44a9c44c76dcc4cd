-- Named queries of plait.store.children, the same in both dialects. Each block starts with
-- "-- name: NAME"; a dialect's queries/children.sql replaces a query of the same name.

-- name: child_insert_run
-- The child's id is derived from its parent's id and step, so a replayed start inserts nothing.
INSERT INTO runs (id, org, workflow, status, input, trigger, created_at, updated_at, deadline_at,
                  workflow_id, workflow_version, parent_run_id, parent_step, root_run_id, depth,
                  trace_context)
VALUES (:id, :org, :workflow, 'pending', :input, 'child', :now, :now, :deadline_at,
        :workflow_id, :workflow_version, :parent_run_id, :parent_step, :root_run_id, :depth,
        :trace_context)
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

-- name: child_runs_of
SELECT id FROM runs WHERE parent_run_id = :run_id ORDER BY created_at, id;

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

-- name: state_upsert
INSERT INTO run_values (run_id, key, value, updated_at) VALUES (:run_id, :key, :value, :now)
ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at;

-- name: state_of_run
SELECT key, value FROM run_values WHERE run_id = :run_id ORDER BY key;
