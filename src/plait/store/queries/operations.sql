-- Named queries of plait.store.operations, the same in both dialects. Each block starts with
-- "-- name: NAME"; a dialect's queries/operations.sql replaces a query of the same name.

-- name: run_for_operation
SELECT status, org, workflow_id, workflow_version FROM runs WHERE id = :run_id;

-- name: step_positions
-- The run's steps as listed (a recorded trigger event, at position -1, is not one of them).
SELECT key, position, status FROM steps WHERE run_id = :run_id AND position >= 0
ORDER BY position;

-- name: delete_steps_from_last_failure
-- Ordered replay (code): the last failed step and every step recorded after it run again; so do
-- steps that were still retrying or waiting when the run ended.
DELETE FROM steps
WHERE run_id = :run_id
  AND (status IN ('retrying', 'waiting')
       OR position >= (SELECT MAX(position) FROM steps
                       WHERE run_id = :run_id AND status = 'failed'));

-- name: delete_unfinished_steps
-- Replay by key (definitions): failed, retrying and waiting steps run again; the rest is kept.
-- Recorded deadlines (the run's and its groups' timeouts) go too: they start again from now.
DELETE FROM steps
WHERE run_id = :run_id AND (status IN ('failed', 'retrying', 'waiting') OR kind = 'deadline');

-- name: compensated_steps
-- The keys of the steps a definition run's compensations undid (JSON), if they ran.
SELECT output FROM steps WHERE run_id = :run_id AND key = :key AND kind = 'value';

-- name: child_waits_of_run
-- Waits that read a child's failure (a wait still waiting keeps its child, which may still end).
SELECT key FROM steps WHERE run_id = :run_id AND kind = 'child-result' AND status = 'failed';

-- name: delete_child_start
-- The start of a child whose wait runs again: the step starts a new child (its next attempt).
DELETE FROM steps WHERE run_id = :run_id AND key = :key AND kind = 'child';

-- name: delete_waits_of_run
DELETE FROM event_waits WHERE run_id = :run_id;

-- name: insert_history
INSERT INTO run_history (run_id, at, action, actor, reason, detail)
VALUES (:run_id, :at, :action, :actor, :reason, :detail);

-- name: history_of_run
SELECT at, action, actor, reason, detail FROM run_history WHERE run_id = :run_id ORDER BY seq;
