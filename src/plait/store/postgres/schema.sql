-- The schema that the PostgreSQL migration chain produces (a test keeps them equal).
-- Edit by adding a migration, then run scripts/schema-sql with PLAIT_TEST_POSTGRES_URL set.

CREATE TABLE api_keys (
    org text NOT NULL,
    id text NOT NULL,
    role text NOT NULL,
    prefix text NOT NULL,
    hash text NOT NULL,
    created_at double precision NOT NULL,
    revoked_at double precision,
    user_name text,
    CONSTRAINT api_keys_pkey PRIMARY KEY (id)
);

CREATE TABLE audit_entries (
    seq bigint NOT NULL GENERATED ALWAYS AS IDENTITY,
    id text NOT NULL,
    org text NOT NULL,
    at double precision NOT NULL,
    actor text NOT NULL,
    key_id text,
    user_name text,
    role text,
    interface text NOT NULL,
    address text,
    verb text NOT NULL,
    resource_type text NOT NULL,
    resource_id text NOT NULL,
    run_id text,
    version_before integer,
    version_after integer,
    result text NOT NULL,
    error text,
    details text NOT NULL,
    CONSTRAINT audit_entries_id_key UNIQUE (id),
    CONSTRAINT audit_entries_pkey PRIMARY KEY (seq)
);

CREATE TABLE bulkhead_permits (
    org text NOT NULL,
    name text NOT NULL,
    run_id text NOT NULL,
    step text NOT NULL,
    fence integer NOT NULL,
    acquired_at double precision NOT NULL,
    CONSTRAINT bulkhead_permits_pkey PRIMARY KEY (org, name, run_id, step)
);

CREATE TABLE changes (
    seq bigint NOT NULL GENERATED ALWAYS AS IDENTITY,
    org text,
    run_id text,
    kind text NOT NULL,
    subject text,
    status text,
    detail text,
    attempts integer,
    at double precision,
    CONSTRAINT changes_pkey PRIMARY KEY (seq)
);

CREATE TABLE circuits (
    org text NOT NULL,
    name text NOT NULL,
    state text NOT NULL,
    failures integer NOT NULL,
    window_start double precision,
    opened_at double precision,
    half_open_at double precision,
    probe text,
    probe_expires double precision,
    opens integer NOT NULL,
    last_error text,
    updated_at double precision NOT NULL,
    CONSTRAINT circuits_pkey PRIMARY KEY (org, name),
    CONSTRAINT circuits_state_check CHECK ((state = ANY (ARRAY['closed'::text, 'open'::text, 'half-open'::text])))
);

CREATE TABLE concurrency_slots (
    org text NOT NULL,
    workflow text NOT NULL,
    key text NOT NULL,
    used integer NOT NULL,
    CONSTRAINT concurrency_slots_pkey PRIMARY KEY (org, workflow, key)
);

CREATE TABLE cost_months (
    org text NOT NULL,
    month text NOT NULL,
    runs bigint NOT NULL,
    CONSTRAINT cost_months_pkey PRIMARY KEY (org, month)
);

CREATE TABLE cost_totals (
    org text NOT NULL,
    month text NOT NULL,
    workflow text NOT NULL,
    currency text NOT NULL,
    runs bigint NOT NULL,
    total numeric NOT NULL,
    CONSTRAINT cost_totals_pkey PRIMARY KEY (org, month, workflow, currency)
);

CREATE TABLE debounces (
    org text NOT NULL,
    workflow_id text NOT NULL,
    key text NOT NULL,
    run_id text NOT NULL,
    CONSTRAINT debounces_pkey PRIMARY KEY (org, workflow_id, key)
);

CREATE TABLE documents (
    org text NOT NULL,
    noun text NOT NULL,
    id text NOT NULL,
    data text NOT NULL,
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    idempotency_key text,
    seq bigint NOT NULL GENERATED ALWAYS AS IDENTITY,
    CONSTRAINT documents_pkey PRIMARY KEY (org, id)
);

CREATE TABLE event_waits (
    org text NOT NULL,
    event_type text NOT NULL,
    run_id text NOT NULL,
    step_key text NOT NULL,
    match text,
    scope text,
    created_at double precision NOT NULL,
    CONSTRAINT event_waits_pkey PRIMARY KEY (run_id, step_key)
);

CREATE TABLE events (
    seq bigint NOT NULL GENERATED ALWAYS AS IDENTITY,
    org text NOT NULL,
    id text NOT NULL,
    type text NOT NULL,
    data text NOT NULL,
    source text NOT NULL,
    run_id text,
    created_at double precision NOT NULL,
    runs text,
    woken text,
    CONSTRAINT events_org_id_key UNIQUE (org, id),
    CONSTRAINT events_pkey PRIMARY KEY (seq)
);

CREATE TABLE idempotency_keys (
    org text NOT NULL,
    key text NOT NULL,
    operation text NOT NULL,
    fingerprint text NOT NULL,
    token text NOT NULL,
    result text,
    locked_at double precision NOT NULL,
    expires_at double precision NOT NULL,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (org, key)
);

CREATE TABLE machine_inbox (
    run_id text NOT NULL,
    n integer NOT NULL,
    event_id text NOT NULL,
    type text NOT NULL,
    data text NOT NULL,
    source text NOT NULL,
    created_at double precision NOT NULL,
    CONSTRAINT machine_inbox_run_id_event_id_key UNIQUE (run_id, event_id),
    CONSTRAINT machine_inbox_pkey PRIMARY KEY (run_id, n)
);

CREATE TABLE machine_instances (
    org text NOT NULL,
    workflow_id text NOT NULL,
    key text NOT NULL,
    run_id text NOT NULL,
    received integer NOT NULL DEFAULT 0,
    created_at double precision NOT NULL,
    CONSTRAINT machine_instances_pkey PRIMARY KEY (org, workflow_id, key)
);

CREATE TABLE rate_limits (
    org text NOT NULL,
    scope text NOT NULL,
    name text NOT NULL,
    tat bigint NOT NULL,
    admitted bigint NOT NULL DEFAULT 0,
    granted integer NOT NULL DEFAULT 0,
    CONSTRAINT rate_limits_pkey PRIMARY KEY (org, scope, name)
);

CREATE TABLE retention_leases (
    name text NOT NULL,
    owner text NOT NULL,
    expires_at double precision NOT NULL,
    CONSTRAINT retention_leases_pkey PRIMARY KEY (name)
);

CREATE TABLE retention_policies (
    org text NOT NULL,
    workflow text NOT NULL,
    policy text NOT NULL,
    updated_at double precision NOT NULL,
    CONSTRAINT retention_policies_pkey PRIMARY KEY (org, workflow)
);

CREATE TABLE run_costs (
    run_id text NOT NULL,
    org text NOT NULL,
    workflow text NOT NULL,
    month text NOT NULL,
    volume integer NOT NULL,
    currency text NOT NULL,
    total text NOT NULL,
    items text NOT NULL,
    priced_at double precision NOT NULL,
    CONSTRAINT run_costs_pkey PRIMARY KEY (run_id)
);

CREATE TABLE run_history (
    seq bigint NOT NULL GENERATED ALWAYS AS IDENTITY,
    run_id text NOT NULL,
    at double precision NOT NULL,
    action text NOT NULL,
    actor text,
    reason text,
    detail text,
    CONSTRAINT run_history_pkey PRIMARY KEY (seq)
);

CREATE TABLE run_metrics (
    run_id text NOT NULL,
    key text NOT NULL,
    position integer NOT NULL,
    org text NOT NULL,
    workflow text NOT NULL,
    name text NOT NULL,
    value double precision NOT NULL,
    labels text NOT NULL DEFAULT '{}'::text,
    recorded_at double precision NOT NULL,
    CONSTRAINT run_metrics_pkey PRIMARY KEY (run_id, key)
);

CREATE TABLE run_trees (
    root_run_id text NOT NULL,
    runs integer NOT NULL,
    CONSTRAINT run_trees_pkey PRIMARY KEY (root_run_id)
);

CREATE TABLE run_values (
    run_id text NOT NULL,
    key text NOT NULL,
    value text NOT NULL,
    updated_at double precision NOT NULL,
    CONSTRAINT run_values_pkey PRIMARY KEY (run_id, key)
);

CREATE TABLE runs (
    id text NOT NULL,
    org text NOT NULL DEFAULT 'default'::text,
    workflow text NOT NULL,
    status text NOT NULL,
    input bytea NOT NULL,
    output bytea,
    error bytea,
    trigger text NOT NULL DEFAULT 'api'::text,
    created_at double precision NOT NULL,
    started_at double precision,
    finished_at double precision,
    updated_at double precision NOT NULL,
    wake_at double precision,
    deadline_at double precision,
    lease_owner text,
    lease_expires_at double precision,
    fence bigint NOT NULL DEFAULT 0,
    executions bigint NOT NULL DEFAULT 0,
    workflow_id text,
    workflow_version bigint,
    event_id text,
    parent_run_id text,
    parent_step text,
    root_run_id text,
    depth integer NOT NULL DEFAULT 0,
    outcome text,
    trace_context text,
    priority integer NOT NULL DEFAULT 0,
    concurrency_key text,
    concurrency_limit integer,
    slot_wait integer NOT NULL DEFAULT 0,
    singleton_key text,
    CONSTRAINT runs_pkey PRIMARY KEY (id)
);

CREATE TABLE schedule_ticks (
    schedule_id text NOT NULL,
    tick_at double precision NOT NULL,
    run_id text,
    fired_at double precision NOT NULL,
    CONSTRAINT schedule_ticks_pkey PRIMARY KEY (schedule_id, tick_at)
);

CREATE TABLE schedules (
    org text NOT NULL,
    id text NOT NULL,
    workflow_id text NOT NULL,
    cron text NOT NULL,
    timezone text NOT NULL,
    catchup text NOT NULL,
    max_catchup bigint NOT NULL,
    input text NOT NULL,
    enabled boolean NOT NULL DEFAULT true,
    next_fire_at double precision NOT NULL,
    created_at double precision NOT NULL,
    notifications text NOT NULL DEFAULT '{}'::text,
    CONSTRAINT schedules_pkey PRIMARY KEY (org, id),
    CONSTRAINT schedules_catchup_check CHECK ((catchup = ANY (ARRAY['skip'::text, 'all'::text])))
);

CREATE TABLE secrets (
    org text NOT NULL,
    name text NOT NULL,
    sealed text NOT NULL,
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL,
    CONSTRAINT secrets_pkey PRIMARY KEY (org, name)
);

CREATE TABLE signals (
    seq bigint NOT NULL GENERATED ALWAYS AS IDENTITY,
    run_id text NOT NULL,
    name text NOT NULL,
    payload text NOT NULL,
    created_at double precision NOT NULL,
    step_key text,
    CONSTRAINT signals_pkey PRIMARY KEY (seq)
);

CREATE TABLE step_attempts (
    run_id text NOT NULL,
    key text NOT NULL,
    attempt integer NOT NULL,
    status text NOT NULL,
    started_at double precision,
    ended_at double precision,
    next_at double precision,
    CONSTRAINT step_attempts_pkey PRIMARY KEY (run_id, key, attempt)
);

CREATE TABLE step_cache (
    org text NOT NULL,
    scope text NOT NULL,
    key_hash text NOT NULL,
    key text NOT NULL,
    workflow text NOT NULL,
    step text NOT NULL,
    output bytea NOT NULL,
    run_id text NOT NULL,
    created_at double precision NOT NULL,
    expires_at double precision NOT NULL,
    hits bigint NOT NULL DEFAULT 0,
    CONSTRAINT step_cache_pkey PRIMARY KEY (org, scope, key_hash)
);

CREATE TABLE steps (
    run_id text NOT NULL,
    key text NOT NULL,
    position bigint NOT NULL,
    name text NOT NULL,
    kind text NOT NULL,
    status text NOT NULL,
    attempts bigint NOT NULL DEFAULT 0,
    output bytea,
    error bytea,
    started_at double precision,
    finished_at double precision,
    wake_at double precision,
    cached boolean NOT NULL DEFAULT false,
    CONSTRAINT steps_pkey PRIMARY KEY (run_id, key)
);

CREATE TABLE tasks (
    org text NOT NULL,
    id text NOT NULL,
    run_id text NOT NULL,
    step_key text NOT NULL,
    workflow text NOT NULL,
    title text NOT NULL,
    description text,
    assignee text NOT NULL,
    status text NOT NULL,
    choices text,
    form text,
    data text,
    due_at double precision,
    escalate_at double precision,
    escalate_to text,
    escalated_at double precision,
    escalated_from text,
    decision text,
    comment text,
    response text,
    completed_by text,
    completed_at double precision,
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL,
    attempt integer NOT NULL DEFAULT 1,
    completed_via text,
    CONSTRAINT tasks_run_id_step_key_attempt_key UNIQUE (run_id, step_key, attempt),
    CONSTRAINT tasks_pkey PRIMARY KEY (org, id),
    CONSTRAINT tasks_status_check CHECK ((status = ANY (ARRAY['open'::text, 'completed'::text, 'expired'::text, 'cancelled'::text])))
);

CREATE TABLE webhook_deliveries (
    org text NOT NULL,
    digest text NOT NULL,
    event_id text NOT NULL,
    expires_at double precision NOT NULL,
    CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (org, digest)
);

CREATE TABLE webhooks (
    org text NOT NULL,
    id text NOT NULL,
    name text NOT NULL,
    scheme text NOT NULL,
    secret text NOT NULL,
    event_type text,
    mapping text,
    created_at double precision NOT NULL,
    sealed boolean NOT NULL DEFAULT false,
    CONSTRAINT webhooks_org_name_key UNIQUE (org, name),
    CONSTRAINT webhooks_pkey PRIMARY KEY (org, id),
    CONSTRAINT webhooks_check CHECK (((event_type IS NULL) <> (mapping IS NULL)))
);

CREATE TABLE workers (
    id text NOT NULL,
    host text NOT NULL,
    pid bigint NOT NULL,
    started_at double precision NOT NULL,
    heartbeat_at double precision NOT NULL,
    CONSTRAINT workers_pkey PRIMARY KEY (id)
);

CREATE TABLE workflow_triggers (
    org text NOT NULL,
    event_type text NOT NULL,
    workflow_id text NOT NULL,
    CONSTRAINT workflow_triggers_pkey PRIMARY KEY (org, event_type, workflow_id)
);

CREATE TABLE workflow_versions (
    org text NOT NULL,
    workflow_id text NOT NULL,
    version bigint NOT NULL,
    document text NOT NULL,
    definition text NOT NULL,
    created_at double precision NOT NULL,
    CONSTRAINT workflow_versions_pkey PRIMARY KEY (org, workflow_id, version)
);

CREATE TABLE workflows (
    org text NOT NULL,
    id text NOT NULL,
    name text NOT NULL,
    kind text NOT NULL,
    status text NOT NULL,
    version bigint NOT NULL,
    document text NOT NULL,
    running bigint NOT NULL DEFAULT 0,
    run_count bigint NOT NULL DEFAULT 0,
    success_count bigint NOT NULL DEFAULT 0,
    failure_count bigint NOT NULL DEFAULT 0,
    last_run_at double precision,
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL,
    triggers text NOT NULL DEFAULT '[]'::text,
    CONSTRAINT workflows_pkey PRIMARY KEY (org, id)
);

CREATE INDEX api_keys_by_org ON api_keys USING btree (org, created_at);

CREATE INDEX api_keys_by_prefix ON api_keys USING btree (prefix);

CREATE INDEX audit_entries_at ON audit_entries USING btree (at);

CREATE INDEX audit_entries_org ON audit_entries USING btree (org, seq);

CREATE INDEX audit_entries_resource ON audit_entries USING btree (org, resource_id, seq);

CREATE INDEX audit_entries_run ON audit_entries USING btree (org, run_id, seq) WHERE (run_id IS NOT NULL);

CREATE INDEX changes_by_org ON changes USING btree (org, seq) WHERE (org IS NOT NULL);

CREATE INDEX changes_by_run ON changes USING btree (run_id, seq) WHERE (run_id IS NOT NULL);

CREATE INDEX debounces_by_run ON debounces USING btree (run_id);

CREATE INDEX documents_by_noun ON documents USING btree (org, noun, created_at);

CREATE UNIQUE INDEX documents_idempotency ON documents USING btree (org, idempotency_key) WHERE (idempotency_key IS NOT NULL);

CREATE INDEX event_waits_by_type ON event_waits USING btree (org, event_type);

CREATE INDEX events_by_org ON events USING btree (org, seq);

CREATE INDEX events_by_type ON events USING btree (org, type, seq);

CREATE INDEX events_created ON events USING btree (created_at);

CREATE INDEX idempotency_keys_expiry ON idempotency_keys USING btree (expires_at);

CREATE UNIQUE INDEX machine_instances_by_run ON machine_instances USING btree (run_id);

CREATE INDEX run_history_of_run ON run_history USING btree (run_id, seq);

CREATE INDEX run_metrics_by_workflow ON run_metrics USING btree (org, workflow, recorded_at);

CREATE INDEX runs_by_org ON runs USING btree (org, created_at DESC);

CREATE INDEX runs_by_org_status ON runs USING btree (org, status, created_at DESC);

CREATE INDEX runs_by_workflow ON runs USING btree (workflow, created_at DESC);

CREATE INDEX runs_by_workflow_status ON runs USING btree (workflow, status, created_at DESC);

CREATE INDEX runs_children ON runs USING btree (parent_run_id) WHERE (parent_run_id IS NOT NULL);

CREATE INDEX runs_ended ON runs USING btree (org, workflow, outcome, finished_at, created_at) WHERE (finished_at IS NOT NULL);

CREATE INDEX runs_executing ON runs USING btree (org, workflow_id) WHERE (status = ANY (ARRAY['pending'::text, 'running'::text]));

CREATE INDEX runs_keyed ON runs USING btree (org, workflow, concurrency_key, created_at) WHERE ((concurrency_key IS NOT NULL) AND (status = ANY (ARRAY['pending'::text, 'running'::text, 'waiting'::text])));

CREATE INDEX runs_leased ON runs USING btree (lease_expires_at) WHERE (status = 'running'::text);

CREATE INDEX runs_listing ON runs USING btree (created_at DESC);

CREATE INDEX runs_live ON runs USING btree (org, workflow, status) WHERE (status = ANY (ARRAY['pending'::text, 'running'::text, 'waiting'::text]));

CREATE INDEX runs_owner ON runs USING btree (lease_owner) WHERE (lease_owner IS NOT NULL);

CREATE INDEX runs_pending ON runs USING btree (priority DESC, created_at) WHERE ((status = 'pending'::text) AND (slot_wait = 0));

CREATE INDEX runs_singleton ON runs USING btree (org, workflow, singleton_key, created_at) WHERE ((singleton_key IS NOT NULL) AND (status = ANY (ARRAY['pending'::text, 'running'::text, 'waiting'::text])));

CREATE INDEX runs_slot_wait ON runs USING btree (org, workflow, concurrency_key, priority DESC, created_at) WHERE ((slot_wait = 1) AND (status = ANY (ARRAY['pending'::text, 'waiting'::text])));

CREATE INDEX runs_waiting ON runs USING btree (wake_at) WHERE ((status = 'waiting'::text) AND (slot_wait = 0));

CREATE INDEX schedule_ticks_by_run ON schedule_ticks USING btree (run_id) WHERE (run_id IS NOT NULL);

CREATE INDEX schedules_by_workflow ON schedules USING btree (org, workflow_id);

CREATE INDEX schedules_due ON schedules USING btree (enabled, next_fire_at);

CREATE INDEX signals_by_run ON signals USING btree (run_id);

CREATE INDEX signals_unconsumed ON signals USING btree (run_id, name, seq) WHERE (step_key IS NULL);

CREATE INDEX step_cache_expiry ON step_cache USING btree (expires_at);

CREATE INDEX step_cache_workflow ON step_cache USING btree (org, workflow);

CREATE INDEX tasks_finished ON tasks USING btree (updated_at) WHERE (status <> 'open'::text);

CREATE INDEX tasks_inbox ON tasks USING btree (org, assignee, status, created_at);

CREATE INDEX tasks_open ON tasks USING btree (org, workflow, due_at) WHERE (status = 'open'::text);

CREATE INDEX webhook_deliveries_expiry ON webhook_deliveries USING btree (expires_at);

CREATE UNIQUE INDEX workflows_by_name ON workflows USING btree (org, name);
