-- The console's overview (PostgreSQL twin of the SQLite migration): ended runs by workflow,
-- outcome and end (runs_ended: each workflow's runs of one outcome in a window are one range),
-- unfinished runs (runs_live) and open tasks (tasks_open), each read as an index range.
CREATE INDEX runs_ended ON runs (org, workflow, outcome, finished_at, created_at)
    WHERE finished_at IS NOT NULL;
CREATE INDEX runs_live ON runs (org, workflow, status)
    WHERE status IN ('pending', 'running', 'waiting');
CREATE INDEX tasks_open ON tasks (org, workflow, due_at) WHERE status = 'open';
-- The events page (GET /~{org}/overview/events, the console's Events): an organization's
-- events newest first, read backwards from the page's cursor.
CREATE INDEX events_by_org ON events (org, seq);
