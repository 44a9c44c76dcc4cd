-- Locks that serialize writers which would otherwise race between reading and writing.
-- (SQLite needs none: BEGIN IMMEDIATE already lets one writer in at a time.)

-- name: lock_debounce
-- Until COMMIT: one transaction at a time decides whether an event joins the debounced run of
-- this key or starts a new one (two-key advisory locks: 7270 is plait's class of them).
SELECT pg_advisory_xact_lock(7270, hashtext(CAST(:org AS TEXT) || '/' || CAST(:workflow_id AS TEXT) || '/' || CAST(:key AS TEXT)));
