-- The event types that trigger each workflow, in the order its definition lists them, stored
-- with the workflow when it is saved: listing or getting workflows then never reads (parses,
-- validates) a stored definition. Existing rows take them from workflow_triggers.
ALTER TABLE workflows ADD COLUMN triggers TEXT NOT NULL DEFAULT '[]';
UPDATE workflows w SET triggers = COALESCE((
    SELECT json_agg(t.event_type ORDER BY t.event_type)::text FROM workflow_triggers t
    WHERE t.org = w.org AND t.workflow_id = w.id
), '[]');
