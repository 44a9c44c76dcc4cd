-- Named queries of plait.store.costs, the same in both dialects. Each block starts with
-- "-- name: NAME"; a dialect's queries/costs.sql replaces a query of the same name.

-- name: priced_run
-- The run, and when it was last resumed (NULL: never): its latest execution began then.
SELECT r.org, r.workflow, r.created_at, r.started_at, r.status,
       (SELECT MAX(h.at) FROM run_history h WHERE h.run_id = r.id AND h.action = 'resume')
FROM runs r WHERE r.id = :run_id;

-- name: priced_steps
-- What pricing reads of a run's steps: never their values, which may be large.
SELECT key, position, name, kind, status, attempts, started_at, finished_at FROM steps
WHERE run_id = :run_id ORDER BY position;

-- name: run_cost_ref
SELECT month, volume, currency, total, items FROM run_costs WHERE run_id = :run_id;

-- name: add_cost_month
-- The organization's priced runs of the month, counted up under the row's lock: the count
-- it returns includes this transaction's runs, exactly, across every worker.
INSERT INTO cost_months (org, month, runs) VALUES (:org, :month, :runs)
ON CONFLICT (org, month) DO UPDATE SET runs = cost_months.runs + excluded.runs
RETURNING runs;

-- name: put_run_cost
INSERT INTO run_costs (run_id, org, workflow, month, volume, currency, total, items, priced_at)
VALUES (:run_id, :org, :workflow, :month, :volume, :currency, :total, :items, :priced_at)
ON CONFLICT (run_id) DO UPDATE SET
    currency = excluded.currency, total = excluded.total, items = excluded.items,
    priced_at = excluded.priced_at;

-- name: run_cost
SELECT currency, total, items, month, volume, priced_at FROM run_costs WHERE run_id = :run_id;

-- name: cost_totals
SELECT month, workflow, currency, runs, total FROM cost_totals
WHERE org = :org AND month >= :first AND month <= :last
  AND (:workflow = '' OR workflow = :workflow)
ORDER BY month, workflow, currency;
