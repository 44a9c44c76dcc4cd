-- The PostgreSQL text of the named queries of plait.store.changes that differ between the
-- dialects (the others are shared: plait/store/queries/changes.sql).

-- name: changes_after
-- Every change after a cursor, for the one poll a process shares among its streams, with the
-- horizon of the snapshot that read them: its xmin (every transaction before it has ended)
-- and its xmax (every transaction that wrote a change it cannot see yet is before it).
SELECT c.seq, c.org, c.run_id, c.kind, c.subject, c.status, c.detail, c.attempts, c.at,
       e.data, e.source, p.output,
       CAST(pg_snapshot_xmin(pg_current_snapshot()) AS TEXT),
       CAST(pg_snapshot_xmax(pg_current_snapshot()) AS TEXT)
FROM changes c
LEFT JOIN events e ON c.kind = 'event' AND e.org = c.org AND e.id = c.subject
LEFT JOIN steps p ON c.detail = 'progress' AND p.run_id = c.run_id AND p.key = c.subject
WHERE c.seq > :after
ORDER BY c.seq
LIMIT :limit;

-- name: changes_horizon
SELECT CAST(pg_snapshot_xmin(pg_current_snapshot()) AS TEXT),
       CAST(pg_snapshot_xmax(pg_current_snapshot()) AS TEXT);
