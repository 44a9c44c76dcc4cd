-- Named queries of plait.store.retention, the same in both dialects. Every read of ended runs
-- goes through the partial index runs_ended (org, workflow, outcome, finished_at, created_at):
-- organizations and their workflows are found by loose index scans (one seek each), and the
-- runs of one (organization, workflow, outcome) that ended before a time are one range of it,
-- oldest first.

-- name: retention_policies_of_org
SELECT org, workflow, policy, updated_at FROM retention_policies
WHERE org = :org ORDER BY workflow;

-- name: retention_policies_all
SELECT org, workflow, policy, updated_at FROM retention_policies ORDER BY org, workflow;

-- name: put_retention_policy
INSERT INTO retention_policies (org, workflow, policy, updated_at)
VALUES (:org, :workflow, :policy, :now)
ON CONFLICT (org, workflow) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at;

-- name: delete_retention_policy
DELETE FROM retention_policies WHERE org = :org AND workflow = :workflow;

-- name: acquire_retention_lease
-- Take the lease :name, or extend it when :owner holds it; a lease past its expiry is taken
-- over. No row changes when another owner holds it.
INSERT INTO retention_leases (name, owner, expires_at) VALUES (:name, :owner, :expires_at)
ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
WHERE retention_leases.owner = excluded.owner OR retention_leases.expires_at < :now;

-- name: release_retention_lease
DELETE FROM retention_leases WHERE name = :name AND owner = :owner;

-- name: retention_orgs
-- The organizations that have ended runs (a loose scan of runs_ended).
WITH RECURSIVE orgs(org) AS (
    SELECT MIN(org) FROM runs WHERE finished_at IS NOT NULL
    UNION ALL
    SELECT (SELECT MIN(r.org) FROM runs r WHERE r.finished_at IS NOT NULL AND r.org > orgs.org)
    FROM orgs WHERE orgs.org IS NOT NULL
)
SELECT org FROM orgs WHERE org IS NOT NULL;

-- name: retention_workflows
-- The workflows of :org that have ended runs (a loose scan of runs_ended).
WITH RECURSIVE named(workflow) AS (
    SELECT MIN(workflow) FROM runs WHERE org = :org AND finished_at IS NOT NULL
    UNION ALL
    SELECT (SELECT MIN(r.workflow) FROM runs r
            WHERE r.org = :org AND r.finished_at IS NOT NULL AND r.workflow > named.workflow)
    FROM named WHERE named.workflow IS NOT NULL
)
SELECT workflow FROM named WHERE workflow IS NOT NULL;

-- name: retention_ended_before
-- The oldest runs of one (organization, workflow, outcome) that ended before :before and may
-- go, at most :limit of them: no child of theirs is still live, and a child goes only after its
-- parent (no parent row left), so a kept parent never loses a child it may resume.
SELECT r.id FROM runs r
WHERE r.org = :org AND r.workflow = :workflow AND r.outcome = :outcome
  AND r.finished_at IS NOT NULL AND r.finished_at < :before
  AND r.status IN ('succeeded', 'failed', 'cancelled')
  AND NOT EXISTS (SELECT 1 FROM runs p WHERE p.id = r.parent_run_id)
  AND NOT EXISTS (SELECT 1 FROM runs c WHERE c.parent_run_id = r.id
                  AND c.status NOT IN ('succeeded', 'failed', 'cancelled'))
ORDER BY r.finished_at
LIMIT :limit;

-- name: retention_count_before
-- How many runs retention_ended_before would find, without a limit (a purge's dry run).
SELECT COUNT(*) FROM runs r
WHERE r.org = :org AND r.workflow = :workflow AND r.outcome = :outcome
  AND r.finished_at IS NOT NULL AND r.finished_at < :before
  AND r.status IN ('succeeded', 'failed', 'cancelled')
  AND NOT EXISTS (SELECT 1 FROM runs p WHERE p.id = r.parent_run_id)
  AND NOT EXISTS (SELECT 1 FROM runs c WHERE c.parent_run_id = r.id
                  AND c.status NOT IN ('succeeded', 'failed', 'cancelled'));

-- name: retention_nth_newest
-- When the :keep-th newest ended run of one (organization, workflow, outcome) ended (no row:
-- it has fewer).
SELECT finished_at FROM runs
WHERE org = :org AND workflow = :workflow AND outcome = :outcome AND finished_at IS NOT NULL
ORDER BY finished_at DESC
LIMIT 1 OFFSET :offset;

-- name: retention_nth_newest_of_two
-- When the :keep-th newest ended run of one (organization, workflow) with the outcome :first or
-- :second ended (succeeded and partial runs sharing one count): two ranges of runs_ended, merged.
SELECT finished_at FROM (
    SELECT finished_at FROM (
        SELECT finished_at FROM runs WHERE org = :org AND workflow = :workflow
            AND outcome = :first AND finished_at IS NOT NULL
        ORDER BY finished_at DESC LIMIT :keep) AS a
    UNION ALL
    SELECT finished_at FROM (
        SELECT finished_at FROM runs WHERE org = :org AND workflow = :workflow
            AND outcome = :second AND finished_at IS NOT NULL
        ORDER BY finished_at DESC LIMIT :keep) AS b
) AS newest
ORDER BY finished_at DESC
LIMIT 1 OFFSET :offset;

-- name: retention_nth_newest_any
-- When the :keep-th newest ended run of one (organization, workflow) ended, whatever its
-- outcome: the newest :keep of each outcome (four ranges of runs_ended), merged.
SELECT finished_at FROM (
    SELECT finished_at FROM (
        SELECT finished_at FROM runs WHERE org = :org AND workflow = :workflow
            AND outcome = 'succeeded' AND finished_at IS NOT NULL
        ORDER BY finished_at DESC LIMIT :keep) AS s
    UNION ALL
    SELECT finished_at FROM (
        SELECT finished_at FROM runs WHERE org = :org AND workflow = :workflow
            AND outcome = 'partial' AND finished_at IS NOT NULL
        ORDER BY finished_at DESC LIMIT :keep) AS p
    UNION ALL
    SELECT finished_at FROM (
        SELECT finished_at FROM runs WHERE org = :org AND workflow = :workflow
            AND outcome = 'failed' AND finished_at IS NOT NULL
        ORDER BY finished_at DESC LIMIT :keep) AS f
    UNION ALL
    SELECT finished_at FROM (
        SELECT finished_at FROM runs WHERE org = :org AND workflow = :workflow
            AND outcome = 'cancelled' AND finished_at IS NOT NULL
        ORDER BY finished_at DESC LIMIT :keep) AS c
) AS newest
ORDER BY finished_at DESC
LIMIT 1 OFFSET :offset;

-- name: prune_events
-- The events' retention: the oldest events stored before :before, at most :limit of them.
DELETE FROM events
WHERE seq IN (SELECT seq FROM events WHERE created_at < :before ORDER BY created_at LIMIT :limit);

-- name: prune_finished_tasks
-- The finished tasks' retention: the tasks that ended (completed, expired, cancelled) longest
-- ago, before :before, at most :limit of them.
DELETE FROM tasks
WHERE status <> 'open' AND updated_at < :before
  AND id IN (SELECT id FROM tasks WHERE status <> 'open' AND updated_at < :before
             ORDER BY updated_at LIMIT :limit);
