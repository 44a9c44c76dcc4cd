-- Named queries of plait.store.counters, the same in both dialects. Each block starts with
-- "-- name: NAME"; a dialect's queries/counters.sql replaces a query of the same name.

-- name: run_workflow_ref
SELECT org, workflow_id, trigger FROM runs WHERE id = :run_id;
