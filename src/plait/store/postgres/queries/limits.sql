-- The PostgreSQL text of the named queries of plait.store.limits that differ between the
-- dialects (the others are shared: plait/store/queries/limits.sql). Each block starts with
-- "-- name: NAME".

-- name: reserve_rate
INSERT INTO rate_limits (org, scope, name, tat, admitted, granted)
VALUES (:org, :scope, :name, :now + :interval, :now + :interval, 1)
ON CONFLICT (org, scope, name) DO UPDATE
SET tat = GREATEST(rate_limits.tat, :now) + :interval,
    granted = CASE WHEN GREATEST(rate_limits.tat, :now) - :tolerance <= :due
                    AND GREATEST(rate_limits.admitted, :now) - :tolerance <= :due THEN 1 ELSE 0 END,
    admitted = CASE WHEN GREATEST(rate_limits.tat, :now) - :tolerance <= :due
                     AND GREATEST(rate_limits.admitted, :now) - :tolerance <= :due
                    THEN GREATEST(rate_limits.admitted, :now) + :interval
                    ELSE rate_limits.admitted END
RETURNING tat, granted;

-- name: admit_rate
UPDATE rate_limits
SET admitted = GREATEST(admitted, :now) + :interval
WHERE org = :org AND scope = :scope AND name = :name
  AND GREATEST(admitted, :now) - :tolerance <= :due
RETURNING admitted;

-- name: lock_bulkhead
-- Acquisitions of one bulkhead, from any process, take turns (until their commit): the count
-- of live permits and the insert that follows it are then exact.
SELECT pg_advisory_xact_lock(hashtext(CAST(:org AS text) || '/' || CAST(:name AS text)));

-- name: lock_circuit
SELECT org, name, state, failures, window_start, opened_at, half_open_at, probe,
       probe_expires, opens, last_error, updated_at
FROM circuits WHERE org = :org AND name = :name FOR UPDATE;
