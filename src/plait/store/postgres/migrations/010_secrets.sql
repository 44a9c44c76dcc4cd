-- Secrets of an organization (see plait.secrets and docs/secrets.md). `sealed` is the value
-- encrypted with a key of PLAIT_SECRET_KEY (Fernet); the plain value is never stored.
CREATE TABLE secrets (
    org        TEXT NOT NULL,
    name       TEXT NOT NULL,
    sealed     TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (org, name)
);
