-- Named queries of plait.store.leases, the same in both dialects. Each block starts with
-- "-- name: NAME"; a dialect's queries/leases.sql replaces a query of the same name.

-- name: finish_run
UPDATE runs
SET status = :status, outcome = :outcome, output = :output, error = :error, finished_at = :now,
    updated_at = :now,
    lease_owner = NULL, lease_expires_at = NULL, wake_at = NULL
WHERE id = :run_id AND fence = :fence AND status = 'running';

-- name: register_worker
INSERT INTO workers (id, host, pid, started_at, heartbeat_at)
VALUES (:id, :host, :pid, :started_at, :heartbeat_at)
ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at;

-- name: worker_heartbeat
UPDATE workers SET heartbeat_at = :now WHERE id = :worker_id;

-- name: list_workers
SELECT id, host, pid, started_at, heartbeat_at FROM workers ORDER BY started_at;

-- name: release_worker_runs
UPDATE runs
SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL, updated_at = :now
WHERE lease_owner = :worker_id AND status = 'running';

-- name: delete_worker
DELETE FROM workers WHERE id = :worker_id;
