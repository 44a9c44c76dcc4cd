-- Idempotent requests (docs/api.md, "Idempotent requests"): one row per Idempotency-Key of an
-- organization. A request reserves its key (insert-or-conflict: of concurrent requests with one
-- key exactly one inserts it) before it acts, and records its result when done; a repeat with
-- the same key and the same request answers that result, one with another request is refused.
-- `fingerprint` is the SHA-256 of the operation and its arguments; `token` names the request
-- that holds the reservation; `result` (JSON) stays NULL while it acts. A row is live until
-- `expires_at` (Settings.idempotency_seconds after its first use); expired rows are pruned a few
-- at a time by later reservations.
CREATE TABLE idempotency_keys (
    org         TEXT NOT NULL,
    key         TEXT NOT NULL,
    operation   TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    token       TEXT NOT NULL,
    result      TEXT,
    locked_at   REAL NOT NULL,
    expires_at  REAL NOT NULL,
    PRIMARY KEY (org, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

-- The runs an event started (or debounced into), as a JSON list, written in the transaction
-- that dispatches it when it started any: a repeated event id answers with them. NULL: none.
ALTER TABLE events ADD COLUMN runs TEXT;
