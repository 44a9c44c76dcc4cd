-- Costs (issue 16): the cost of each priced run, as it was priced when the run ended (line
-- items and total as exact decimal text), and the monthly aggregates per organization,
-- workflow and currency. cost_totals and cost_months are never pruned with the runs: a purge
-- of old runs (and of their run_costs rows) leaves the month's totals as they were.
-- cost_months counts the organization's priced runs per month: the volume a tier reads.
CREATE TABLE run_costs (
    run_id    TEXT NOT NULL PRIMARY KEY,
    org       TEXT NOT NULL,
    workflow  TEXT NOT NULL,
    month     TEXT NOT NULL,
    volume    INTEGER NOT NULL,
    currency  TEXT NOT NULL,
    total     TEXT NOT NULL,
    items     TEXT NOT NULL,
    priced_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE cost_totals (
    org      TEXT NOT NULL,
    month    TEXT NOT NULL,
    workflow TEXT NOT NULL,
    currency TEXT NOT NULL,
    runs     INTEGER NOT NULL,
    total    TEXT NOT NULL,
    PRIMARY KEY (org, month, workflow, currency)
) WITHOUT ROWID;
CREATE TABLE cost_months (
    org   TEXT NOT NULL,
    month TEXT NOT NULL,
    runs  INTEGER NOT NULL,
    PRIMARY KEY (org, month)
) WITHOUT ROWID;
