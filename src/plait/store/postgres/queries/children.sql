-- The PostgreSQL text of the named queries of plait.store.children that differ between the
-- dialects (the others are shared: plait/store/queries/children.sql). Each block starts with
-- "-- name: NAME".

-- name: signal_run_status
-- Locks the run's row: a signal and a receive of one run never interleave.
SELECT status FROM runs WHERE id = :run_id FOR UPDATE;
