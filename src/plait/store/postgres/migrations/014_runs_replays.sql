-- A run's count of replays (passes of its workflow over its recorded steps): the column is
-- named for the word the code and the API use (it was called executions).
ALTER TABLE runs RENAME COLUMN executions TO replays;
