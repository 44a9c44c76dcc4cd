-- Events (stored once per id within an organization) and the document store of record actions.
--
-- `seq` is an identity, so it only grows and dispatch can keep a cursor. Unlike SQLite (one
-- writer), concurrent transactions may commit out of `seq` order, so a reader at a given `seq`
-- can still see a smaller one appear later. `events_by_type` serves matching and listing by type.
-- Document and event data are JSON text (TEXT, not JSONB), so that they read back byte for byte
-- as written (JSONB would reorder keys and respace); `find_documents` casts to JSONB to filter.
-- A document `idempotency_key` (the step that created it) makes a retried create return the
-- document instead of creating a second one.
-- `documents.seq` stands in for the SQLite rowid, the insertion-order tie-break of
-- `find_documents` (documents created in the same instant keep their creation order).
CREATE TABLE events (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org        TEXT NOT NULL,
    id         TEXT NOT NULL,
    type       TEXT NOT NULL,
    data       TEXT NOT NULL,
    source     TEXT NOT NULL,
    run_id     TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    UNIQUE (org, id)
);
CREATE INDEX events_by_type ON events (org, type, seq);

CREATE TABLE documents (
    org             TEXT NOT NULL,
    noun            TEXT NOT NULL,
    id              TEXT NOT NULL,
    data            TEXT NOT NULL,
    created_at      DOUBLE PRECISION NOT NULL,
    updated_at      DOUBLE PRECISION NOT NULL,
    version         BIGINT NOT NULL DEFAULT 1,
    idempotency_key TEXT,
    seq             BIGINT GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (org, id)
);
CREATE INDEX documents_by_noun ON documents (org, noun, created_at);
CREATE UNIQUE INDEX documents_idempotency ON documents (org, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
