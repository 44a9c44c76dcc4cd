-- The PostgreSQL text of the named queries of plait.store.tasks that differ between the
-- dialects (the others are shared: plait/store/queries/tasks.sql). Each block starts with
-- "-- name: NAME".

-- name: task_insert
-- One open task per run step: a replay that creates it again changes nothing. A step that runs
-- again after its task ended (a resumed run) gets a new task, the step's next attempt; the
-- ended one is kept.
INSERT INTO tasks (org, id, run_id, step_key, workflow, title, description, assignee, status,
                   choices, form, data, due_at, escalate_at, escalate_to, created_at, updated_at,
                   attempt)
SELECT CAST(:org AS TEXT), CAST(:id AS TEXT), CAST(:run_id AS TEXT),
       CAST(:step_key AS TEXT), CAST(:workflow AS TEXT), CAST(:title AS TEXT),
       CAST(:description AS TEXT), CAST(:assignee AS TEXT), 'open', CAST(:choices AS TEXT),
       CAST(:form AS TEXT), CAST(:data AS TEXT), CAST(:due_at AS DOUBLE PRECISION),
       CAST(:escalate_at AS DOUBLE PRECISION), CAST(:escalate_to AS TEXT),
       CAST(:now AS DOUBLE PRECISION), CAST(:now AS DOUBLE PRECISION),
       (SELECT COALESCE(MAX(attempt), 0) + 1 FROM tasks
        WHERE run_id = :run_id AND step_key = :step_key)
WHERE NOT EXISTS (SELECT 1 FROM tasks
                  WHERE run_id = :run_id AND step_key = :step_key AND status = 'open')
ON CONFLICT (run_id, step_key, attempt) DO NOTHING;

-- name: task_list
-- Newest first; after the keyset (created_at, id) of the previous page's last task, if any.
SELECT org, id, run_id, step_key, workflow, title, description, assignee, status, choices,
       form, data, due_at, escalate_at, escalate_to, escalated_at, escalated_from, decision,
       comment, response, completed_by, completed_at, created_at, updated_at, attempt,
       completed_via
FROM tasks
WHERE org = :org AND (CAST(:assignee AS TEXT) IS NULL OR assignee = :assignee)
  AND (CAST(:status AS TEXT) IS NULL OR status = :status)
  AND (CAST(:after_at AS DOUBLE PRECISION) IS NULL OR created_at < :after_at
       OR (created_at = :after_at AND id COLLATE "C" < CAST(:after_id AS TEXT)))
ORDER BY created_at DESC, id COLLATE "C" DESC
LIMIT :limit;
