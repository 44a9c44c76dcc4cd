-- API keys (see plait.keys). Only the SHA-256 of a key is stored; `prefix` is its non-secret
-- part (`plait_<id>`), which is what a secret scanner reports.
-- A revoked key keeps its row, so listings show when it was revoked.
CREATE TABLE api_keys (
    org        TEXT NOT NULL,
    id         TEXT NOT NULL,
    role       TEXT NOT NULL,
    prefix     TEXT NOT NULL,
    hash       TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    revoked_at DOUBLE PRECISION,
    PRIMARY KEY (id)
);
CREATE INDEX api_keys_by_prefix ON api_keys (prefix);
CREATE INDEX api_keys_by_org ON api_keys (org, created_at);
