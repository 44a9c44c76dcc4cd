-- Named queries of plait.store.tasks, the same in both dialects. Each block starts with
-- "-- name: NAME"; a dialect's queries/tasks.sql replaces a query of the same name.

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

-- name: open_task_counts
-- Open tasks, and those past their due time, for the metrics gauges.
SELECT COUNT(*), COUNT(CASE WHEN due_at < :now THEN 1 END) FROM tasks WHERE status = 'open';
