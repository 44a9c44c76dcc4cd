-- Webhook secrets sealed at rest, and replay protection by content (see plait.webhooks).
--
-- `sealed` = 1: `secret` holds the secret encrypted with a key of PLAIT_SECRET_KEY (Fernet).
-- Rows stored before this migration hold it in plain text (`sealed` = 0); the webhook service
-- seals them the first time it is used with a key set (docs/security.md, "Webhooks").
ALTER TABLE webhooks ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0;

-- One row per accepted signed delivery: `digest` is the SHA-256 of the webhook's id and the
-- content its signature covers, so a replay (even with changed unsigned headers) finds it and
-- starts nothing. A row is live until `expires_at` (Settings.webhook_replay_seconds after it was
-- accepted); expired rows are pruned a few at a time by later deliveries.
CREATE TABLE webhook_deliveries (
    org        TEXT NOT NULL,
    digest     TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (org, digest)
);
CREATE INDEX webhook_deliveries_expiry ON webhook_deliveries (expires_at);
