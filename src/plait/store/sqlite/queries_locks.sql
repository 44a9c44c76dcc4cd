-- Locks that serialize writers which would otherwise race between reading and writing.
-- SQLite needs none (BEGIN IMMEDIATE lets one writer in at a time): the queries are no-ops
-- that keep the operations written once for both dialects.

-- name: lock_debounce
SELECT :org, :workflow_id, :key;
