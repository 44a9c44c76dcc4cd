-- The SQLite text of the named queries of plait.store.costs that differ between the
-- dialects (the others are shared: plait/store/queries/costs.sql). Each block starts with
-- "-- name: NAME". SQLite has no exact decimal type: a total is text, added to in Python
-- inside the single writer's transaction (cost_total_of, then put_cost_total).

-- name: cost_total_of
SELECT runs, total FROM cost_totals
WHERE org = :org AND month = :month AND workflow = :workflow AND currency = :currency;

-- name: put_cost_total
INSERT INTO cost_totals (org, month, workflow, currency, runs, total)
VALUES (:org, :month, :workflow, :currency, :runs, :total)
ON CONFLICT (org, month, workflow, currency) DO UPDATE SET
    runs = excluded.runs, total = excluded.total;
