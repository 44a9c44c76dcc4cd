-- The audit trail (docs/observability.md, "Audit trail"): one row per change a caller made
-- through the API, the CLI, the console or Python (workflow lifecycle, run operations, tasks,
-- keys, secrets, schedules, webhooks), and per refusal of one. Append-only: plait never updates
-- a row, and deletes only those older than the retention (PLAIT_AUDIT_RETENTION_DAYS), oldest
-- first, in bounded batches. `seq` orders the entries (pages are keyset pages on it, newest
-- first); `actor` is who acted as shown (the key's person, else its id, else the name a local
-- caller gave, else "local"); `details` is a small JSON object (never a secret's value).
CREATE TABLE audit_entries (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    id             TEXT NOT NULL UNIQUE,
    org            TEXT NOT NULL,
    at             REAL NOT NULL,
    actor          TEXT NOT NULL,
    key_id         TEXT,
    user_name      TEXT,
    role           TEXT,
    interface      TEXT NOT NULL,
    address        TEXT,
    verb           TEXT NOT NULL,
    resource_type  TEXT NOT NULL,
    resource_id    TEXT NOT NULL,
    run_id         TEXT,
    version_before INTEGER,
    version_after  INTEGER,
    result         TEXT NOT NULL,
    error          TEXT,
    details        TEXT NOT NULL
);
CREATE INDEX audit_entries_org ON audit_entries (org, seq);
CREATE INDEX audit_entries_resource ON audit_entries (org, resource_id, seq);
CREATE INDEX audit_entries_run ON audit_entries (org, run_id, seq) WHERE run_id IS NOT NULL;
CREATE INDEX audit_entries_at ON audit_entries (at);
-- Append-only in the database too: an UPDATE of an entry fails, whoever sends it.
CREATE TRIGGER audit_entries_append_only BEFORE UPDATE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;
