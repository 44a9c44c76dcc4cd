-- The SQLite text of the named queries of plait.store.documents that differ between the
-- dialects (the others are shared: plait/store/queries/documents.sql). Each block starts with
-- "-- name: NAME".

-- name: find_documents
-- :where is a JSON object of field -> value. A document matches when no entry of it differs:
-- values compare as SQL values (so 1 = 1.0), and being a boolean must agree on both sides
-- (json_extract gives 1 for true). :sort is a field name or NULL, :descending 0 or 1.
SELECT org, noun, id, data, created_at, updated_at, version FROM (
    SELECT d.*, d.rowid AS seq,
           CASE :sort
               WHEN 'createdAt' THEN d.created_at
               WHEN 'updatedAt' THEN d.updated_at
               WHEN '$id' THEN d.id
               ELSE json_extract(d.data, '$."' || :sort || '"')
           END AS sort_key
    FROM documents AS d
    WHERE d.org = :org AND d.noun = :noun AND NOT EXISTS (
        SELECT 1 FROM json_each(:where) AS w
        WHERE json_extract(d.data, '$."' || w.key || '"') IS NOT w.value
           OR (COALESCE(json_type(d.data, '$."' || w.key || '"'), 'null') IN ('true', 'false'))
              != (w.type IN ('true', 'false'))
    )
)
ORDER BY CASE WHEN :descending THEN sort_key END DESC,
         CASE WHEN NOT :descending THEN sort_key END,
         created_at, seq
LIMIT :limit;
