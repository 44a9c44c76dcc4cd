-- The PostgreSQL text of the named queries of plait.store.costs that differ between the
-- dialects (the others are shared: plait/store/queries/costs.sql). Each block starts with
-- "-- name: NAME".

-- name: add_cost_total
-- Added to in one statement under the row's lock, in NUMERIC: exact across workers.
INSERT INTO cost_totals (org, month, workflow, currency, runs, total)
VALUES (:org, :month, :workflow, :currency, :runs, CAST(:total AS NUMERIC))
ON CONFLICT (org, month, workflow, currency) DO UPDATE SET
    runs = cost_totals.runs + excluded.runs, total = cost_totals.total + excluded.total;
