-- The PostgreSQL text of the named queries of plait.store.concurrency that differ between the
-- dialects (the others are shared: plait/store/queries/concurrency.sql). Each block starts with
-- "-- name: NAME".

-- name: park_runs
UPDATE runs SET slot_wait = 1
WHERE id IN (SELECT jsonb_array_elements_text(CAST(:ids AS JSONB)));

-- name: park_key
-- Runs another claim has locked (it waits for this claim's slot row lock) are left to it.
UPDATE runs SET slot_wait = 1 WHERE id IN (
    SELECT id FROM runs
    WHERE org = :org AND workflow = :workflow AND concurrency_key = :key AND status = 'pending'
      AND slot_wait = 0
      AND id NOT IN (SELECT jsonb_array_elements_text(CAST(:granted AS JSONB)))
    FOR UPDATE SKIP LOCKED);

-- name: lock_flow
-- Until COMMIT: one start at a time decides about a singleton or debounce key (advisory locks
-- of plait's class 7270, as lock_debounce).
SELECT pg_advisory_xact_lock(7270, hashtext(CAST(:org AS TEXT) || '/' || CAST(:workflow AS TEXT) || '/' || CAST(:key AS TEXT)));

-- name: claim_ids
-- Leases the runs of :ids (locked by claim_runs in the same transaction) that got a slot.
UPDATE runs
SET status = 'running', lease_owner = :owner, lease_expires_at = :lease_until,
    fence = fence + 1, executions = executions + 1, wake_at = NULL,
    started_at = COALESCE(started_at, CAST(:now AS DOUBLE PRECISION)), updated_at = :now
WHERE id IN (SELECT jsonb_array_elements_text(CAST(:ids AS JSONB)))
RETURNING id, workflow, input, fence, created_at, deadline_at, org, workflow_id, workflow_version,
          trace_context;
