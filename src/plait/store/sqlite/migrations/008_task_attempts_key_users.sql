-- Human tasks get attempts: resuming a run whose task step failed (the task expired) opens a new
-- task for the same step (attempt 2, ...) and the expired one stays, so a task is unique per
-- (run, step, attempt) rather than per (run, step). `completed_via` records the API key through
-- which a person completed a task. SQLite cannot drop a table constraint: the table is rebuilt.
CREATE TABLE tasks_next (
    org          TEXT NOT NULL,
    id           TEXT NOT NULL,
    run_id       TEXT NOT NULL,
    step_key     TEXT NOT NULL,
    workflow     TEXT NOT NULL,
    title        TEXT NOT NULL,
    description  TEXT,
    assignee     TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('open', 'completed', 'expired', 'cancelled')),
    choices      TEXT,
    form         TEXT,
    data         TEXT,
    due_at       REAL,
    escalate_at  REAL,
    escalate_to  TEXT,
    escalated_at REAL,
    escalated_from TEXT,
    decision     TEXT,
    comment      TEXT,
    response     TEXT,
    completed_by TEXT,
    completed_at REAL,
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL,
    attempt      INTEGER NOT NULL DEFAULT 1,
    completed_via TEXT,
    PRIMARY KEY (org, id),
    UNIQUE (run_id, step_key, attempt)
);
INSERT INTO tasks_next (org, id, run_id, step_key, workflow, title, description, assignee, status,
                        choices, form, data, due_at, escalate_at, escalate_to, escalated_at,
                        escalated_from, decision, comment, response, completed_by, completed_at,
                        created_at, updated_at)
SELECT org, id, run_id, step_key, workflow, title, description, assignee, status, choices, form,
       data, due_at, escalate_at, escalate_to, escalated_at, escalated_from, decision, comment,
       response, completed_by, completed_at, created_at, updated_at
FROM tasks;
DROP TABLE tasks;
ALTER TABLE tasks_next RENAME TO tasks;
CREATE INDEX tasks_inbox ON tasks (org, assignee, status, created_at);

-- An API key may be bound to a person: a task completed with it is completed by that person.
ALTER TABLE api_keys ADD COLUMN user_name TEXT;
