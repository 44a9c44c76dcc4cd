-- Named queries of plait.store.concurrency, the same in both dialects. Each block starts with
-- "-- name: NAME"; a dialect's queries/concurrency.sql replaces a query of the same name.

-- name: lock_slot
-- The slot row of a concurrency key, locked until COMMIT (the no-op update takes the row lock
-- on PostgreSQL; SQLite has one writer), with how many of its slots are taken.
INSERT INTO concurrency_slots (org, workflow, key, used) VALUES (:org, :workflow, :key, 0)
ON CONFLICT (org, workflow, key) DO UPDATE SET used = concurrency_slots.used
RETURNING used;

-- name: take_slot
-- One slot of a key if one is free (a row comes back), the slot row locked until COMMIT either
-- way (ON CONFLICT DO UPDATE locks the row it conflicts with before its WHERE is checked).
INSERT INTO concurrency_slots (org, workflow, key, used) VALUES (:org, :workflow, :key, 1)
ON CONFLICT (org, workflow, key) DO UPDATE SET used = concurrency_slots.used + 1
WHERE concurrency_slots.used < :limit
RETURNING used;

-- name: take_slots
UPDATE concurrency_slots SET used = used + :taken
WHERE org = :org AND workflow = :workflow AND key = :key;

-- name: give_slot_back
-- The slot a start took for a run whose insert found its id taken (a concurrent start of it).
UPDATE concurrency_slots SET used = used - 1
WHERE org = :org AND workflow = :workflow AND key = :key AND used > 0;

-- name: park_runs
-- Runs a claim found over their key's limit: the claim's indexes skip them until a slot of
-- their key is freed (the trigger concurrency_slot_freed unparks them one at a time).
UPDATE runs SET slot_wait = 1 WHERE id IN (SELECT value FROM json_each(:ids));

-- name: park_key
-- Every pending run of a key a claim found full, parked at once: the claims that follow look
-- past its whole backlog (the trigger concurrency_slot_freed unparks them one at a time). The
-- runs this claim just gave a slot (:granted) are left out: it leases them next.
UPDATE runs SET slot_wait = 1
WHERE org = :org AND workflow = :workflow AND concurrency_key = :key AND status = 'pending'
  AND slot_wait = 0 AND id NOT IN (SELECT value FROM json_each(:granted));

-- name: insert_flow_run
INSERT INTO runs (id, org, workflow, status, input, trigger, created_at, started_at, updated_at,
                  deadline_at, lease_owner, lease_expires_at, fence, executions, workflow_id,
                  workflow_version, event_id, trace_context, wake_at, priority, concurrency_key,
                  concurrency_limit, slot_wait, singleton_key)
VALUES (:id, :org, :workflow, :status, :input, :trigger, :created_at, :started_at, :created_at,
        :deadline_at, :owner, :lease_until, :fence, :executions, :workflow_id,
        :workflow_version, :event_id, :trace_context, :wake_at, :priority, :concurrency_key,
        :concurrency_limit, :slot_wait, :singleton_key)
ON CONFLICT (id) DO NOTHING;

-- name: live_singleton
SELECT id FROM runs
WHERE org = :org AND workflow = :workflow AND singleton_key = :key
  AND status IN ('pending', 'running', 'waiting')
ORDER BY created_at, id;

-- name: live_keyed
SELECT id FROM runs
WHERE org = :org AND workflow = :workflow AND concurrency_key = :key
  AND status IN ('pending', 'running', 'waiting')
ORDER BY created_at, id;

-- name: key_queued
-- Whether a run of the key of at least :priority is queued: a new run then waits its turn.
SELECT 1 FROM runs
WHERE org = :org AND workflow = :workflow AND concurrency_key = :key AND status = 'pending'
  AND priority >= :priority
LIMIT 1;

-- name: keyed_run
SELECT 1 FROM runs WHERE id = :run_id AND concurrency_key IS NOT NULL;

-- name: slots_used
SELECT key, used FROM concurrency_slots WHERE org = :org AND workflow = :workflow AND used > 0
ORDER BY key;

-- name: set_run_flow
-- The flow control of a run an event or a tick started (inserted pending or waiting: the claim
-- then takes its slot).
UPDATE runs SET priority = :priority, concurrency_key = :concurrency_key,
                concurrency_limit = :concurrency_limit, singleton_key = :singleton_key
WHERE id = :id;

-- name: run_scope
SELECT org, workflow FROM runs WHERE id = :id;
