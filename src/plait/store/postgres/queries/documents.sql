-- The PostgreSQL text of the named queries of plait.store.documents that differ between the
-- dialects (the others are shared: plait/store/queries/documents.sql). Each block starts with
-- "-- name: NAME".

-- name: find_documents
-- The where parameter is a JSON object of field to value. A document matches when no entry of
-- it differs. Values compare as JSONB (so 1 = 1.0, and true is not 1), a missing field counts as
-- null, and objects and arrays compare by content. The sort parameter is a field name or NULL,
-- descending a bool. Sorting follows SQLite, which orders NULL (and JSON null), then numbers
-- (booleans as 0 and 1), then text (objects and arrays as their JSON text), bytewise. seq keeps
-- documents created in the same instant in creation order, as the SQLite rowid does.
SELECT org, noun, id, data, created_at, updated_at, version FROM (
    SELECT d.org, d.noun, d.id, d.data, d.created_at, d.updated_at, d.version, d.seq,
           CASE jsonb_typeof(s.k)
               WHEN 'number' THEN 1 WHEN 'boolean' THEN 1
               WHEN 'string' THEN 2 WHEN 'object' THEN 2 WHEN 'array' THEN 2
               ELSE 0
           END AS sort_rank,
           CASE jsonb_typeof(s.k)
               WHEN 'number' THEN CAST(s.k AS NUMERIC)
               WHEN 'boolean' THEN CASE WHEN CAST(s.k AS BOOLEAN) THEN 1 ELSE 0 END
           END AS sort_number,
           CASE WHEN jsonb_typeof(s.k) IN ('string', 'object', 'array')
                THEN s.k #>> '{}' END AS sort_text
    FROM documents AS d
    CROSS JOIN LATERAL (
        SELECT CASE CAST(:sort AS TEXT)
                   WHEN 'createdAt' THEN to_jsonb(d.created_at)
                   WHEN 'updatedAt' THEN to_jsonb(d.updated_at)
                   WHEN '$id' THEN to_jsonb(d.id)
                   ELSE CAST(d.data AS JSONB) -> CAST(:sort AS TEXT)
               END
    ) AS s (k)
    WHERE d.org = :org AND d.noun = :noun AND NOT EXISTS (
        SELECT 1 FROM jsonb_each(CAST(:where AS JSONB)) AS w
        WHERE NULLIF(CAST(d.data AS JSONB) -> w.key, CAST('null' AS JSONB))
              IS DISTINCT FROM NULLIF(w.value, CAST('null' AS JSONB))
    )
) AS found
ORDER BY CASE WHEN CAST(:descending AS BOOLEAN) THEN sort_rank END DESC,
         CASE WHEN CAST(:descending AS BOOLEAN) THEN sort_number END DESC,
         CASE WHEN CAST(:descending AS BOOLEAN) THEN sort_text COLLATE "C" END DESC,
         CASE WHEN NOT CAST(:descending AS BOOLEAN) THEN sort_rank END,
         CASE WHEN NOT CAST(:descending AS BOOLEAN) THEN sort_number END,
         CASE WHEN NOT CAST(:descending AS BOOLEAN) THEN sort_text COLLATE "C" END,
         created_at, seq
LIMIT :limit;
