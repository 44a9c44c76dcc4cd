-- The runs of a workflow that are executing (pending or running), counted whenever a workflow is
-- read (its status reads Triggered while there are any): found by (org, workflow) instead of a
-- scan of every pending or running run.
CREATE INDEX runs_executing ON runs (org, workflow_id) WHERE status IN ('pending', 'running');
