-- Named queries of plait.store.limits (rate limits, bulkheads, circuit breakers), the same in
-- both dialects. Each block starts with "-- name: NAME"; a dialect's queries/limits.sql replaces
-- a query of the same name.

-- name: reserve_rate
-- GCRA: the row holds the theoretical arrival time (tat) of the next turn; a reservation moves
-- it one interval past max(tat, now) and returns it. When that turn is now and the calls let
-- through so far leave room (GCRA on `admitted`), the call is let through too (`granted`), in
-- the same statement (SET reads the row as it was). Concurrent reservations of one limit
-- serialise on its row (SQLite's single writer; PostgreSQL's row lock of the upsert).
INSERT INTO rate_limits (org, scope, name, tat, admitted, granted)
VALUES (:org, :scope, :name, :now + :interval, :now + :interval, 1)
ON CONFLICT (org, scope, name) DO UPDATE
SET tat = MAX(rate_limits.tat, :now) + :interval,
    granted = CASE WHEN MAX(rate_limits.tat, :now) - :tolerance <= :due
                    AND MAX(rate_limits.admitted, :now) - :tolerance <= :due THEN 1 ELSE 0 END,
    admitted = CASE WHEN MAX(rate_limits.tat, :now) - :tolerance <= :due
                     AND MAX(rate_limits.admitted, :now) - :tolerance <= :due
                    THEN MAX(rate_limits.admitted, :now) + :interval
                    ELSE rate_limits.admitted END
RETURNING tat, granted;

-- name: admit_rate
-- Let one call through now if it conforms (GCRA on `admitted`, with :tolerance the burst); no
-- row: nothing changes (the caller reads `admitted` to know when to try again).
UPDATE rate_limits
SET admitted = MAX(admitted, :now) + :interval
WHERE org = :org AND scope = :scope AND name = :name
  AND MAX(admitted, :now) - :tolerance <= :due
RETURNING admitted;

-- name: give_back_rate
-- A turn reserved in this transaction for a start that created no run (see give_back_turn).
UPDATE rate_limits SET tat = tat - :interval
WHERE org = :org AND scope = :scope AND name = :name;

-- name: run_wake_at
SELECT wake_at FROM runs WHERE id = :run_id;

-- name: prune_rate_limits
-- Rows of rate limits with no turn ahead and no call let through ahead: the same as no row (a
-- reservation or an admission then starts afresh). The outer conditions are checked again on
-- a row a concurrent reservation changed (PostgreSQL), so such a row stays.
DELETE FROM rate_limits
WHERE tat <= :now AND admitted <= :now
  AND (org, scope, name) IN (SELECT org, scope, name FROM rate_limits
                             WHERE tat <= :now AND admitted <= :now LIMIT :batch);

-- name: rate_admitted
SELECT admitted FROM rate_limits WHERE org = :org AND scope = :scope AND name = :name;

-- name: lock_bulkhead
-- What serialises the acquisitions of one bulkhead (SQLite's writer already does).
SELECT 1;

-- name: free_dead_permits
-- Permits whose holder no longer runs under the fence it took them with (it ended, suspended,
-- crashed and lost its lease, or was taken over) are free.
DELETE FROM bulkhead_permits
WHERE org = :org AND name = :name AND NOT EXISTS (
    SELECT 1 FROM runs r
    WHERE r.id = bulkhead_permits.run_id AND r.status = 'running'
      AND r.fence = bulkhead_permits.fence AND r.lease_expires_at > :now
);

-- name: count_permits
SELECT count(*) FROM bulkhead_permits
WHERE org = :org AND name = :name AND NOT (run_id = :run_id AND step = :step);

-- name: take_permit
INSERT INTO bulkhead_permits (org, name, run_id, step, fence, acquired_at)
VALUES (:org, :name, :run_id, :step, :fence, :now)
ON CONFLICT (org, name, run_id, step) DO UPDATE
SET fence = excluded.fence, acquired_at = excluded.acquired_at;

-- name: release_permit
-- Fenced: a worker that lost its run's lease never frees the permit of the run's new owner.
DELETE FROM bulkhead_permits
WHERE org = :org AND name = :name AND run_id = :run_id AND step = :step AND fence = :fence;

-- name: bulkhead_holders
SELECT run_id, step, fence, acquired_at FROM bulkhead_permits
WHERE org = :org AND name = :name ORDER BY acquired_at, run_id, step;

-- name: ensure_circuit
INSERT INTO circuits (org, name, state, failures, opens, updated_at)
VALUES (:org, :name, 'closed', 0, 0, :now)
ON CONFLICT (org, name) DO NOTHING;

-- name: lock_circuit
SELECT org, name, state, failures, window_start, opened_at, half_open_at, probe,
       probe_expires, opens, last_error, updated_at
FROM circuits WHERE org = :org AND name = :name;

-- name: get_circuit
SELECT org, name, state, failures, window_start, opened_at, half_open_at, probe,
       probe_expires, opens, last_error, updated_at
FROM circuits WHERE org = :org AND name = :name;

-- name: list_circuits
SELECT org, name, state, failures, window_start, opened_at, half_open_at, probe,
       probe_expires, opens, last_error, updated_at
FROM circuits WHERE org = :org ORDER BY name;

-- name: set_circuit
UPDATE circuits
SET state = :state, failures = :failures, window_start = :window_start, opened_at = :opened_at,
    half_open_at = :half_open_at, probe = :probe, probe_expires = :probe_expires,
    opens = :opens, last_error = :last_error, updated_at = :now
WHERE org = :org AND name = :name;

-- name: take_probe
-- The one call a half-open circuit lets through: taken by one caller at a time (compare and
-- set), again by another once the probe's lease passed without an answer, and again by the
-- probe's own step when its run is re-claimed after its worker died.
UPDATE circuits
SET state = 'half-open', probe = :probe, probe_expires = :probe_expires, updated_at = :now
WHERE org = :org AND name = :name
  AND ((state = 'open' AND half_open_at <= :now)
       OR (state = 'half-open'
           AND (probe IS NULL OR probe_expires <= :now OR probe = :probe)));

-- name: close_circuit
UPDATE circuits
SET state = 'closed', failures = 0, window_start = NULL, half_open_at = NULL, probe = NULL,
    probe_expires = NULL, updated_at = :now
WHERE org = :org AND name = :name AND state = 'half-open' AND probe = :probe;

-- name: drop_probe
UPDATE circuits SET probe = NULL, probe_expires = NULL, updated_at = :now
WHERE org = :org AND name = :name AND state = 'half-open' AND probe = :probe;

-- name: reset_circuit
UPDATE circuits
SET state = 'closed', failures = 0, window_start = NULL, opened_at = NULL, half_open_at = NULL,
    probe = NULL, probe_expires = NULL, updated_at = :now
WHERE org = :org AND name = :name;

-- name: circuit_counts
-- The state as of :now (an open circuit past its half_open_at is half-open), as the resource.
SELECT CASE WHEN state = 'open' AND half_open_at <= :now THEN 'half-open' ELSE state END,
       count(*)
FROM circuits
GROUP BY CASE WHEN state = 'open' AND half_open_at <= :now THEN 'half-open' ELSE state END;
