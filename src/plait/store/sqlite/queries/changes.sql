-- The SQLite text of the named queries of plait.store.changes that differ between the
-- dialects (the others are shared: plait/store/queries/changes.sql).

-- name: changes_after
-- Every change after a cursor, for the one poll a process shares among its streams. SQLite
-- commits one writer at a time, in the order of seq: the horizon columns are NULL.
SELECT c.seq, c.org, c.run_id, c.kind, c.subject, c.status, c.detail, c.attempts, c.at,
       e.data, e.source, p.output, NULL, NULL
FROM changes c
LEFT JOIN events e ON c.kind = 'event' AND e.org = c.org AND e.id = c.subject
LEFT JOIN steps p ON c.detail = 'progress' AND p.run_id = c.run_id AND p.key = c.subject
WHERE c.seq > :after
ORDER BY c.seq
LIMIT :limit;

-- name: changes_horizon
SELECT NULL, NULL;
