-- The event types that trigger each workflow, in the order its definition lists them, stored
-- with the workflow when it is saved: listing or getting workflows then never reads (parses,
-- validates) a stored definition. Existing rows take them from workflow_triggers.
ALTER TABLE workflows ADD COLUMN triggers TEXT NOT NULL DEFAULT '[]';
UPDATE workflows SET triggers = (
    SELECT json_group_array(t.event_type) FROM workflow_triggers t
    WHERE t.org = workflows.org AND t.workflow_id = workflows.id
);
