-- Costs (issue 16): the cost of each priced run, as it was priced when the run ended (line
-- items and total as exact decimal text), and the monthly aggregates per organization,
-- workflow and currency (totals NUMERIC, added to atomically). cost_totals and cost_months
-- are never pruned with the runs: a purge of old runs (and of their run_costs rows) leaves
-- the month's totals as they were. cost_months counts the organization's priced runs per
-- month: the volume a tier reads, incremented under its row lock.
CREATE TABLE run_costs (
    run_id    TEXT NOT NULL PRIMARY KEY,
    org       TEXT NOT NULL,
    workflow  TEXT NOT NULL,
    month     TEXT NOT NULL,
    volume    INTEGER NOT NULL,
    currency  TEXT NOT NULL,
    total     TEXT NOT NULL,
    items     TEXT NOT NULL,
    priced_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE cost_totals (
    org      TEXT NOT NULL,
    month    TEXT NOT NULL,
    workflow TEXT NOT NULL,
    currency TEXT NOT NULL,
    runs     BIGINT NOT NULL,
    total    NUMERIC NOT NULL,
    PRIMARY KEY (org, month, workflow, currency)
);
CREATE TABLE cost_months (
    org   TEXT NOT NULL,
    month TEXT NOT NULL,
    runs  BIGINT NOT NULL,
    PRIMARY KEY (org, month)
);
