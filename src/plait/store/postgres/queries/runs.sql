-- The PostgreSQL text of the named queries of plait.store.runs that differ between the
-- dialects (the others are shared: plait/store/queries/runs.sql). Each block starts with
-- "-- name: NAME".

-- name: steps_of_runs
SELECT run_id, key, position, name, kind, status, attempts, output, error,
       started_at, finished_at, wake_at, cached
FROM steps WHERE run_id IN (SELECT jsonb_array_elements_text(CAST(:run_ids AS JSONB)))
ORDER BY run_id, position;

-- name: list_runs
SELECT id, org, workflow, status, input, output, error, trigger, created_at, started_at,
       finished_at, updated_at, wake_at, deadline_at, lease_owner, lease_expires_at, fence,
       executions, workflow_id, workflow_version, event_id, parent_run_id, parent_step,
       outcome
FROM runs
WHERE (CAST(:workflow AS TEXT) IS NULL OR workflow = :workflow)
  AND (CAST(:status AS TEXT) IS NULL OR status = :status)
  AND (CAST(:org AS TEXT) IS NULL OR org = :org)
ORDER BY created_at DESC, id COLLATE "C" DESC
LIMIT :limit;

-- name: page_runs
-- A page of an organization's runs, newest first, read in keyset order (created_at, id)
-- after (:after_at, :after_id) (+Infinity and '' for the first page; a "created before" bound is
-- folded in) down to :since. The filters the read's index cannot apply (outcome, trigger, an
-- input field, and workflow or status where the index has no column for them) make each run read
-- a hit or not; at most :scan runs are read, and the first :limit hits are answered with NULL in
-- the last column, then the oldest run read with the number of runs read: where the next read
-- starts when the hits were fewer (plait.store.runs.RunVerbs.page_runs).
-- Read through runs_by_org.
WITH scanned AS MATERIALIZED (
    SELECT id, created_at, (CAST(:workflow AS TEXT) IS NULL OR workflow = :workflow)
                AND (CAST(:status AS TEXT) IS NULL OR status = :status)
                AND (CAST(:outcome AS TEXT) IS NULL OR COALESCE(outcome, status) = :outcome)
                AND (CAST(:trigger AS TEXT) IS NULL OR trigger = :trigger)
                AND (CAST(:path AS TEXT[]) IS NULL OR convert_from(input, 'UTF8')::jsonb
                     #> (CASE WHEN workflow_version IS NULL THEN CAST(:path AS TEXT[])
                         ELSE '{0}' || CAST(:path AS TEXT[]) END)
                     = CAST(:value AS JSONB)) AS hit
    FROM runs
    WHERE org = :org
      AND created_at <= :after_at AND created_at >= :since
    AND (created_at < :after_at OR id COLLATE "C" < :after_id)
    ORDER BY created_at DESC, id COLLATE "C" DESC
    LIMIT :scan
)
SELECT r.id, r.org, r.workflow, r.status, r.input, r.output, r.error, r.trigger, r.created_at,
       r.started_at, r.finished_at, r.updated_at, r.wake_at, r.deadline_at, r.lease_owner,
       r.lease_expires_at, r.fence, r.executions, r.workflow_id, r.workflow_version, r.event_id,
       r.parent_run_id, r.parent_step, r.outcome, NULL AS scanned
FROM (SELECT id FROM scanned WHERE hit ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT :limit)
     s JOIN runs r ON r.id = s.id
UNION ALL
SELECT r.id, r.org, r.workflow, r.status, r.input, r.output, r.error, r.trigger, r.created_at,
       r.started_at, r.finished_at, r.updated_at, r.wake_at, r.deadline_at, r.lease_owner,
       r.lease_expires_at, r.fence, r.executions, r.workflow_id, r.workflow_version, r.event_id,
       r.parent_run_id, r.parent_step, r.outcome, (SELECT COUNT(*) FROM scanned)
FROM (SELECT id FROM scanned ORDER BY created_at, id COLLATE "C" LIMIT 1)
     s JOIN runs r ON r.id = s.id;

-- name: page_runs_of_status
-- A page of an organization's runs of one status, as page_runs.
-- Read through runs_by_org_status.
WITH scanned AS MATERIALIZED (
    SELECT id, created_at, (CAST(:workflow AS TEXT) IS NULL OR workflow = :workflow)
                AND (CAST(:status AS TEXT) IS NULL OR status = :status)
                AND (CAST(:outcome AS TEXT) IS NULL OR COALESCE(outcome, status) = :outcome)
                AND (CAST(:trigger AS TEXT) IS NULL OR trigger = :trigger)
                AND (CAST(:path AS TEXT[]) IS NULL OR convert_from(input, 'UTF8')::jsonb
                     #> (CASE WHEN workflow_version IS NULL THEN CAST(:path AS TEXT[])
                         ELSE '{0}' || CAST(:path AS TEXT[]) END)
                     = CAST(:value AS JSONB)) AS hit
    FROM runs
    WHERE org = :org AND status = :status
      AND created_at <= :after_at AND created_at >= :since
    AND (created_at < :after_at OR id COLLATE "C" < :after_id)
    ORDER BY created_at DESC, id COLLATE "C" DESC
    LIMIT :scan
)
SELECT r.id, r.org, r.workflow, r.status, r.input, r.output, r.error, r.trigger, r.created_at,
       r.started_at, r.finished_at, r.updated_at, r.wake_at, r.deadline_at, r.lease_owner,
       r.lease_expires_at, r.fence, r.executions, r.workflow_id, r.workflow_version, r.event_id,
       r.parent_run_id, r.parent_step, r.outcome, NULL AS scanned
FROM (SELECT id FROM scanned WHERE hit ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT :limit)
     s JOIN runs r ON r.id = s.id
UNION ALL
SELECT r.id, r.org, r.workflow, r.status, r.input, r.output, r.error, r.trigger, r.created_at,
       r.started_at, r.finished_at, r.updated_at, r.wake_at, r.deadline_at, r.lease_owner,
       r.lease_expires_at, r.fence, r.executions, r.workflow_id, r.workflow_version, r.event_id,
       r.parent_run_id, r.parent_step, r.outcome, (SELECT COUNT(*) FROM scanned)
FROM (SELECT id FROM scanned ORDER BY created_at, id COLLATE "C" LIMIT 1)
     s JOIN runs r ON r.id = s.id;

-- name: page_runs_of_workflow
-- A page of an organization's runs of one workflow, as page_runs.
-- Read through runs_by_workflow.
WITH scanned AS MATERIALIZED (
    SELECT id, created_at, (CAST(:workflow AS TEXT) IS NULL OR workflow = :workflow)
                AND (CAST(:status AS TEXT) IS NULL OR status = :status)
                AND (CAST(:outcome AS TEXT) IS NULL OR COALESCE(outcome, status) = :outcome)
                AND (CAST(:trigger AS TEXT) IS NULL OR trigger = :trigger)
                AND (CAST(:path AS TEXT[]) IS NULL OR convert_from(input, 'UTF8')::jsonb
                     #> (CASE WHEN workflow_version IS NULL THEN CAST(:path AS TEXT[])
                         ELSE '{0}' || CAST(:path AS TEXT[]) END)
                     = CAST(:value AS JSONB)) AS hit
    FROM runs
    WHERE workflow = :workflow AND org = :org
      AND created_at <= :after_at AND created_at >= :since
    AND (created_at < :after_at OR id COLLATE "C" < :after_id)
    ORDER BY created_at DESC, id COLLATE "C" DESC
    LIMIT :scan
)
SELECT r.id, r.org, r.workflow, r.status, r.input, r.output, r.error, r.trigger, r.created_at,
       r.started_at, r.finished_at, r.updated_at, r.wake_at, r.deadline_at, r.lease_owner,
       r.lease_expires_at, r.fence, r.executions, r.workflow_id, r.workflow_version, r.event_id,
       r.parent_run_id, r.parent_step, r.outcome, NULL AS scanned
FROM (SELECT id FROM scanned WHERE hit ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT :limit)
     s JOIN runs r ON r.id = s.id
UNION ALL
SELECT r.id, r.org, r.workflow, r.status, r.input, r.output, r.error, r.trigger, r.created_at,
       r.started_at, r.finished_at, r.updated_at, r.wake_at, r.deadline_at, r.lease_owner,
       r.lease_expires_at, r.fence, r.executions, r.workflow_id, r.workflow_version, r.event_id,
       r.parent_run_id, r.parent_step, r.outcome, (SELECT COUNT(*) FROM scanned)
FROM (SELECT id FROM scanned ORDER BY created_at, id COLLATE "C" LIMIT 1)
     s JOIN runs r ON r.id = s.id;

-- name: page_runs_of_workflow_status
-- A page of an organization's runs of one workflow and status, as page_runs.
-- Read through runs_by_workflow_status.
WITH scanned AS MATERIALIZED (
    SELECT id, created_at, (CAST(:workflow AS TEXT) IS NULL OR workflow = :workflow)
                AND (CAST(:status AS TEXT) IS NULL OR status = :status)
                AND (CAST(:outcome AS TEXT) IS NULL OR COALESCE(outcome, status) = :outcome)
                AND (CAST(:trigger AS TEXT) IS NULL OR trigger = :trigger)
                AND (CAST(:path AS TEXT[]) IS NULL OR convert_from(input, 'UTF8')::jsonb
                     #> (CASE WHEN workflow_version IS NULL THEN CAST(:path AS TEXT[])
                         ELSE '{0}' || CAST(:path AS TEXT[]) END)
                     = CAST(:value AS JSONB)) AS hit
    FROM runs
    WHERE workflow = :workflow AND status = :status AND org = :org
      AND created_at <= :after_at AND created_at >= :since
    AND (created_at < :after_at OR id COLLATE "C" < :after_id)
    ORDER BY created_at DESC, id COLLATE "C" DESC
    LIMIT :scan
)
SELECT r.id, r.org, r.workflow, r.status, r.input, r.output, r.error, r.trigger, r.created_at,
       r.started_at, r.finished_at, r.updated_at, r.wake_at, r.deadline_at, r.lease_owner,
       r.lease_expires_at, r.fence, r.executions, r.workflow_id, r.workflow_version, r.event_id,
       r.parent_run_id, r.parent_step, r.outcome, NULL AS scanned
FROM (SELECT id FROM scanned WHERE hit ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT :limit)
     s JOIN runs r ON r.id = s.id
UNION ALL
SELECT r.id, r.org, r.workflow, r.status, r.input, r.output, r.error, r.trigger, r.created_at,
       r.started_at, r.finished_at, r.updated_at, r.wake_at, r.deadline_at, r.lease_owner,
       r.lease_expires_at, r.fence, r.executions, r.workflow_id, r.workflow_version, r.event_id,
       r.parent_run_id, r.parent_step, r.outcome, (SELECT COUNT(*) FROM scanned)
FROM (SELECT id FROM scanned ORDER BY created_at, id COLLATE "C" LIMIT 1)
     s JOIN runs r ON r.id = s.id;

-- name: page_runs_among
-- A page of an organization's runs among the ids :ids (a JSON array), as page_runs.
-- Read through the primary key.
WITH scanned AS MATERIALIZED (
    SELECT id, created_at, (CAST(:workflow AS TEXT) IS NULL OR workflow = :workflow)
                AND (CAST(:status AS TEXT) IS NULL OR status = :status)
                AND (CAST(:outcome AS TEXT) IS NULL OR COALESCE(outcome, status) = :outcome)
                AND (CAST(:trigger AS TEXT) IS NULL OR trigger = :trigger)
                AND (CAST(:path AS TEXT[]) IS NULL OR convert_from(input, 'UTF8')::jsonb
                     #> (CASE WHEN workflow_version IS NULL THEN CAST(:path AS TEXT[])
                         ELSE '{0}' || CAST(:path AS TEXT[]) END)
                     = CAST(:value AS JSONB)) AS hit
    FROM runs
    WHERE id IN (SELECT jsonb_array_elements_text(CAST(:ids AS JSONB))) AND org = :org
      AND created_at <= :after_at AND created_at >= :since
    AND (created_at < :after_at OR id COLLATE "C" < :after_id)
    ORDER BY created_at DESC, id COLLATE "C" DESC
    LIMIT :scan
)
SELECT r.id, r.org, r.workflow, r.status, r.input, r.output, r.error, r.trigger, r.created_at,
       r.started_at, r.finished_at, r.updated_at, r.wake_at, r.deadline_at, r.lease_owner,
       r.lease_expires_at, r.fence, r.executions, r.workflow_id, r.workflow_version, r.event_id,
       r.parent_run_id, r.parent_step, r.outcome, NULL AS scanned
FROM (SELECT id FROM scanned WHERE hit ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT :limit)
     s JOIN runs r ON r.id = s.id
UNION ALL
SELECT r.id, r.org, r.workflow, r.status, r.input, r.output, r.error, r.trigger, r.created_at,
       r.started_at, r.finished_at, r.updated_at, r.wake_at, r.deadline_at, r.lease_owner,
       r.lease_expires_at, r.fence, r.executions, r.workflow_id, r.workflow_version, r.event_id,
       r.parent_run_id, r.parent_step, r.outcome, (SELECT COUNT(*) FROM scanned)
FROM (SELECT id FROM scanned ORDER BY created_at, id COLLATE "C" LIMIT 1)
     s JOIN runs r ON r.id = s.id;

-- name: run_ids_with_prefix
-- The ids of an organization's runs that start with a prefix: :low <= id < :high, a range of
-- the primary key.
SELECT id FROM runs
WHERE id COLLATE "C" >= :low AND id COLLATE "C" < :high AND org = :org
ORDER BY id COLLATE "C" LIMIT :limit;
