-- The SQLite text of the named queries of plait.store.concurrency that differ between the
-- dialects (the others are shared: plait/store/queries/concurrency.sql). Each block starts with
-- "-- name: NAME".

-- name: lock_flow
-- SQLite needs no lock (BEGIN IMMEDIATE lets one writer in at a time): a no-op, so that the
-- operation is written once for both dialects.
SELECT :org, :workflow, :key;
