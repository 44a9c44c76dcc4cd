-- The runs pages' status filters (GET /~{org}/runs?status=, the console's Runs page): an
-- organization's runs of one status, and a workflow's runs of one status, newest first, read
-- through an index each instead of a scan of every run of the organization (or workflow)
-- until a page of that status turns up.
CREATE INDEX runs_by_org_status ON runs (org, status, created_at DESC);
CREATE INDEX runs_by_workflow_status ON runs (workflow, status, created_at DESC);
-- The runs a stored event woke (a wait it resolved, a state machine it was delivered to), as
-- `runs` keeps the runs it started: a JSON array of run ids, NULL for none (and for events
-- stored before this migration). The runs search by event id reads both.
ALTER TABLE events ADD COLUMN woken TEXT;
