-- Named queries of the tasks area (PostgreSQL twins). Each block starts with "-- name: NAME".

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

-- name: task_run_fenced
SELECT 1 FROM runs WHERE id = :run_id AND fence = :fence AND status = 'running';

-- name: task_get
SELECT org, id, run_id, step_key, workflow, title, description, assignee, status, choices,
       form, data, due_at, escalate_at, escalate_to, escalated_at, escalated_from, decision,
       comment, response, completed_by, completed_at, created_at, updated_at, attempt,
       completed_via
FROM tasks WHERE org = :org AND id = :id;

-- name: task_of_step
SELECT org, id, run_id, step_key, workflow, title, description, assignee, status, choices,
       form, data, due_at, escalate_at, escalate_to, escalated_at, escalated_from, decision,
       comment, response, completed_by, completed_at, created_at, updated_at, attempt,
       completed_via
FROM tasks WHERE run_id = :run_id AND step_key = :step_key
ORDER BY attempt DESC
LIMIT 1;

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

-- name: task_complete
-- Compare-and-set: only an open task is completed, once, and only while it is still assigned
-- to the assignee the caller's permission was checked against (an escalation may intervene).
UPDATE tasks SET status = 'completed', decision = :decision, comment = :comment,
                 response = :response, completed_by = :by, completed_via = :via,
                 completed_at = :now, updated_at = :now
WHERE org = :org AND id = :id AND status = 'open' AND assignee = :assignee;

-- name: task_escalate
-- Compare-and-set: an open task is escalated once; the assignee it had is kept.
UPDATE tasks SET escalated_from = assignee, assignee = :escalate_to, escalated_at = :now,
                 updated_at = :now
WHERE org = :org AND id = :id AND status = 'open' AND escalated_at IS NULL;

-- name: task_expire
UPDATE tasks SET status = 'expired', updated_at = :now
WHERE org = :org AND id = :id AND status = 'open';

-- name: task_fail_step
UPDATE steps SET status = 'failed', error = :error, finished_at = :now, attempts = 1
WHERE run_id = :run_id AND key = :step_key AND status = 'waiting';

-- name: task_cancel_of_run
UPDATE tasks SET status = 'cancelled', updated_at = :now
WHERE run_id = :run_id AND status = 'open';

-- name: task_resolve_step
-- The waiting step of a completed task takes the decision as its output (bytes: JSON).
UPDATE steps SET status = 'completed', output = :output, finished_at = :now, attempts = 1
WHERE run_id = :run_id AND key = :step_key AND status = 'waiting';
