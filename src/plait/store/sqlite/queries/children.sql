-- The SQLite text of the named queries of plait.store.children that differ between the
-- dialects (the others are shared: plait/store/queries/children.sql). Each block starts with
-- "-- name: NAME".

-- name: signal_run_status
-- SQLite serialises writers (BEGIN IMMEDIATE), so a plain read is as good as a row lock here.
SELECT status FROM runs WHERE id = :run_id;
