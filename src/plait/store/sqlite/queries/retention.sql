-- The SQLite text of the named queries of plait.store.retention that differ between the
-- dialects (the others are shared: plait/store/queries/retention.sql). Each block starts with
-- "-- name: NAME". :ids is a JSON array of run ids.

-- name: retention_deletable
-- Of the runs :ids, those that may go, locked until the transaction ends (a retry of one waits):
-- ended, with no child that has not ended, and no parent still stored (a child goes after its
-- parent: a parent kept longer keeps its children).
SELECT r.id FROM runs AS r
WHERE r.id IN (SELECT value FROM json_each(:ids))
  AND r.status IN ('succeeded', 'failed', 'cancelled') AND r.finished_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM runs AS p WHERE p.id = r.parent_run_id)
  AND NOT EXISTS (SELECT 1 FROM runs AS c WHERE c.parent_run_id = r.id
                  AND c.status NOT IN ('succeeded', 'failed', 'cancelled'));

-- name: retention_delete_steps
DELETE FROM steps WHERE run_id IN (SELECT value FROM json_each(:ids));

-- name: retention_delete_step_attempts
DELETE FROM step_attempts WHERE run_id IN (SELECT value FROM json_each(:ids));

-- name: retention_delete_run_history
DELETE FROM run_history WHERE run_id IN (SELECT value FROM json_each(:ids));

-- name: retention_delete_run_metrics
DELETE FROM run_metrics WHERE run_id IN (SELECT value FROM json_each(:ids));

-- name: retention_delete_run_values
DELETE FROM run_values WHERE run_id IN (SELECT value FROM json_each(:ids));

-- name: retention_delete_signals
DELETE FROM signals WHERE run_id IN (SELECT value FROM json_each(:ids));

-- name: retention_delete_event_waits
DELETE FROM event_waits WHERE run_id IN (SELECT value FROM json_each(:ids));

-- name: retention_delete_machine_inbox
DELETE FROM machine_inbox WHERE run_id IN (SELECT value FROM json_each(:ids));

-- name: retention_delete_machine_instances
DELETE FROM machine_instances WHERE run_id IN (SELECT value FROM json_each(:ids));

-- name: retention_delete_debounces
DELETE FROM debounces WHERE run_id IN (SELECT value FROM json_each(:ids));

-- name: retention_delete_tasks
DELETE FROM tasks WHERE run_id IN (SELECT value FROM json_each(:ids));

-- name: retention_delete_run_trees
DELETE FROM run_trees WHERE root_run_id IN (SELECT value FROM json_each(:ids));

-- name: retention_delete_run_costs
-- The run's priced cost (cost_totals, the months' aggregates, stay as they are).
DELETE FROM run_costs WHERE run_id IN (SELECT value FROM json_each(:ids));

-- name: retention_delete_runs
DELETE FROM runs WHERE id IN (SELECT value FROM json_each(:ids));
