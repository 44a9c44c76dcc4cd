-- The console's overview (GET /~{org}/overview): what an organization's runs and tasks did over
-- the last hour and day, read as index ranges of the window instead of scans of every run.
-- runs_ended holds only ended runs: a loose scan of it finds the organization's workflows, and
-- each workflow's runs of one outcome ended in a window are one range of it (counts, and the
-- durations of the p95 from finished_at and created_at, without reading the table). runs_live
-- holds only unfinished runs, counted by workflow and status; tasks_open only open tasks.
CREATE INDEX runs_ended ON runs (org, workflow, outcome, finished_at, created_at)
    WHERE finished_at IS NOT NULL;
CREATE INDEX runs_live ON runs (org, workflow, status)
    WHERE status IN ('pending', 'running', 'waiting');
CREATE INDEX tasks_open ON tasks (org, workflow, due_at) WHERE status = 'open';
-- The events page (GET /~{org}/overview/events, the console's Events): an organization's
-- events newest first, read backwards from the page's cursor.
CREATE INDEX events_by_org ON events (org, seq);
