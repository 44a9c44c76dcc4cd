-- Named queries of plait.store.machines, the same in both dialects. Each block starts with
-- "-- name: NAME"; a dialect's queries/machines.sql replaces a query of the same name.

-- name: machine_instance
SELECT i.run_id, r.status, i.received, i.created_at, i.key, i.workflow_id, r.outcome
FROM machine_instances i JOIN runs r ON r.id = i.run_id
WHERE i.org = :org AND i.workflow_id = :workflow_id AND i.key = :key;

-- name: machine_instance_of_run
SELECT i.run_id, r.status, i.received, i.created_at, i.key, i.workflow_id, r.outcome
FROM machine_instances i JOIN runs r ON r.id = i.run_id
WHERE i.run_id = :run_id;

-- name: machine_instances_of_workflow
-- Oldest first; after the keyset (created_at, key) of the previous page's last instance, if any.
SELECT i.run_id, r.status, i.received, i.created_at, i.key, i.workflow_id, r.outcome
FROM machine_instances i JOIN runs r ON r.id = i.run_id
WHERE i.org = :org AND i.workflow_id = :workflow_id
  AND (CAST(:after_at AS DOUBLE PRECISION) IS NULL OR i.created_at > :after_at
       OR (i.created_at = :after_at AND i.key > CAST(:after_key AS TEXT)))
ORDER BY i.created_at, i.key LIMIT :limit;

-- name: machine_insert_instance
INSERT INTO machine_instances (org, workflow_id, key, run_id, received, created_at)
VALUES (:org, :workflow_id, :key, :run_id, 0, :now)
ON CONFLICT DO NOTHING;

-- name: machine_count_event
-- Locks the instance's row (if its run has not ended): deliveries to one instance are
-- numbered in commit order.
UPDATE machine_instances SET received = received + 1
WHERE org = :org AND workflow_id = :workflow_id AND key = :key
  AND run_id IN (SELECT id FROM runs WHERE status IN ('pending', 'running', 'waiting'))
RETURNING run_id, received;

-- name: machine_uncount_event
UPDATE machine_instances SET received = received - 1
WHERE org = :org AND workflow_id = :workflow_id AND key = :key;

-- name: machine_insert_inbox
INSERT INTO machine_inbox (run_id, n, event_id, type, data, source, created_at)
VALUES (:run_id, :n, :event_id, :type, :data, :source, :now)
ON CONFLICT DO NOTHING;

-- name: machine_wake_run
-- A waiting run becomes runnable; a running one is hinted to run again when it suspends.
UPDATE runs
SET status = CASE WHEN status = 'waiting' THEN 'pending' ELSE status END,
    wake_at = CASE WHEN status = 'waiting' THEN NULL ELSE :now END,
    updated_at = CASE WHEN status = 'waiting' THEN :now ELSE updated_at END
WHERE id = :run_id AND status IN ('waiting', 'running');

-- name: machine_inbox_event
SELECT event_id, type, data, source, created_at FROM machine_inbox
WHERE run_id = :run_id AND n = :n;
