-- Events (stored once per id within an organization) and the document store of record actions.
--
-- `seq` only grows (AUTOINCREMENT never reuses a number), so whatever dispatches events to
-- triggers can keep a cursor; `events_by_type` serves matching and listing by type.
-- Document and event data are JSON text, not BLOB: from SQLite 3.45 the JSON functions read a
-- BLOB as JSONB, and `find_documents` filters with json_extract.
-- A document's `idempotency_key` (the step that created it) makes a retried create return the
-- document instead of creating a second one.
CREATE TABLE events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    org        TEXT NOT NULL,
    id         TEXT NOT NULL,
    type       TEXT NOT NULL,
    data       TEXT NOT NULL,
    source     TEXT NOT NULL,
    run_id     TEXT,
    created_at REAL NOT NULL,
    UNIQUE (org, id)
);
CREATE INDEX events_by_type ON events (org, type, seq);

CREATE TABLE documents (
    org             TEXT NOT NULL,
    noun            TEXT NOT NULL,
    id              TEXT NOT NULL,
    data            TEXT NOT NULL,
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1,
    idempotency_key TEXT,
    PRIMARY KEY (org, id)
);
CREATE INDEX documents_by_noun ON documents (org, noun, created_at);
CREATE UNIQUE INDEX documents_idempotency ON documents (org, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
