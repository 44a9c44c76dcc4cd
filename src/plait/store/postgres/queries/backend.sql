-- Named queries of the PostgreSQL backend itself (no SQLite twin). Each block starts with
-- "-- name: NAME".

-- name: notify_runnable
-- Wakes the workers that LISTEN on plait_runnable (delivered when the transaction commits).
SELECT pg_notify('plait_runnable', CAST(:payload AS TEXT));
