-- Named queries of plait.store.documents, the same in both dialects. Each block starts with
-- "-- name: NAME"; a dialect's queries/documents.sql replaces a query of the same name.

-- name: event_exists
SELECT 1 FROM events WHERE org = :org AND id = :id;

-- name: insert_document
-- A second insert under one idempotency key changes nothing (the caller then reads the first).
INSERT INTO documents (org, noun, id, data, created_at, updated_at, version, idempotency_key)
VALUES (:org, :noun, :id, :data, :now, :now, 1, :idempotency_key)
ON CONFLICT (org, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING;

-- name: document_by_idempotency_key
SELECT org, noun, id, data, created_at, updated_at, version FROM documents
WHERE org = :org AND idempotency_key = :idempotency_key;

-- name: get_document
SELECT org, noun, id, data, created_at, updated_at, version FROM documents
WHERE org = :org AND noun = :noun AND id = :id;

-- name: update_document
UPDATE documents SET data = :data, updated_at = :now, version = version + 1
WHERE org = :org AND noun = :noun AND id = :id
RETURNING org, noun, id, data, created_at, updated_at, version;

-- name: delete_document
DELETE FROM documents WHERE org = :org AND noun = :noun AND id = :id;
