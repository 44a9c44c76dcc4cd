-- Named queries of plait.store.changes (the change feed of live streams), the same in both
-- dialects. Each block starts with "-- name: NAME"; a dialect's queries/changes.sql replaces a
-- query of the same name. The rows are written by the triggers of migration 020.

-- name: changes_head
SELECT MAX(seq) FROM changes;

-- name: run_changes
-- One run's changes after a cursor, up to what the feed has settled (changes_by_run).
SELECT c.seq, c.org, c.run_id, c.kind, c.subject, c.status, c.detail, c.attempts, c.at,
       NULL, NULL, p.output
FROM changes c
LEFT JOIN steps p ON c.detail = 'progress' AND p.run_id = c.run_id AND p.key = c.subject
WHERE c.run_id = :run_id AND c.seq > :after AND c.seq <= :upto
ORDER BY c.seq
LIMIT :limit;

-- name: org_changes
-- An organization's run transitions and events after a cursor, up to what the feed has
-- settled (changes_by_org).
SELECT c.seq, c.org, c.run_id, c.kind, c.subject, c.status, c.detail, c.attempts, c.at,
       e.data, e.source, NULL
FROM changes c
LEFT JOIN events e ON c.kind = 'event' AND e.org = c.org AND e.id = c.subject
WHERE c.org = :org AND c.kind <> 'step' AND c.seq > :after AND c.seq <= :upto
ORDER BY c.seq
LIMIT :limit;

-- name: changes_kept_from
-- The first change to keep: the oldest run transition or event at or after the cutoff (the
-- rows before it are the oldest, read in the order they were written).
SELECT seq FROM changes WHERE kind <> 'step' AND at >= :cutoff ORDER BY seq LIMIT 1;

-- name: oldest_change
SELECT MIN(seq) FROM changes;

-- name: run_last_change
SELECT MAX(seq) FROM changes WHERE run_id = :run_id;

-- name: run_ended_steps
-- The keys of a run's steps whose ending the feed still keeps (changes_by_run).
SELECT DISTINCT subject FROM changes
WHERE run_id = :run_id AND kind = 'step' AND status IN ('completed', 'failed', 'skipped');

-- name: prune_changes
-- The oldest changes below a number, a batch at a time (the retention; changes_kept_from).
DELETE FROM changes WHERE seq IN (
    SELECT seq FROM changes WHERE seq < :before ORDER BY seq LIMIT :limit
);
