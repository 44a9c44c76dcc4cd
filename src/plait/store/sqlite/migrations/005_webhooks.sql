-- Webhooks: named endpoints (POST /~{org}/webhooks/{name}) that verify a signature and emit an
-- event (see plait.webhooks and plait.store.sqlite.webhooks).
--
-- `secret` is stored as given, not hashed: verifying an HMAC needs the key itself.
-- A webhook emits either a fixed `event_type` or what its CEL `mapping` computes, never both.
CREATE TABLE webhooks (
    org        TEXT NOT NULL,
    id         TEXT NOT NULL,
    name       TEXT NOT NULL,
    scheme     TEXT NOT NULL,
    secret     TEXT NOT NULL,
    event_type TEXT,
    mapping    TEXT,
    created_at REAL NOT NULL,
    PRIMARY KEY (org, id),
    UNIQUE (org, name),
    CHECK ((event_type IS NULL) != (mapping IS NULL))
);
