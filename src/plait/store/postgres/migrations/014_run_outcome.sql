-- How each run ended (succeeded, partial, failed, cancelled), set when it ends: a run whose
-- steps failed and were continued past ends `succeeded` with outcome `partial`. Runs that
-- ended before this migration take their outcome from their status.
ALTER TABLE runs ADD COLUMN outcome TEXT;
UPDATE runs SET outcome = status WHERE status IN ('succeeded', 'failed', 'cancelled');
