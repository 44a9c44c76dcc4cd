-- The SQLite text of the named queries of plait.store.audit that differ between the dialects
-- (the others are shared: plait/store/queries/audit.sql). Each block starts with "-- name: NAME".

-- name: page_audit
-- A page of an organization's audit trail, newest first, after the keyset (seq) of the last
-- entry of the previous page; every filter is optional (NULL: any).
SELECT seq, id, org, at, actor, key_id, user_name, role, interface, address, verb,
       resource_type, resource_id, run_id, version_before, version_after, result, error, details
FROM audit_entries
WHERE org = :org
  AND (:resource IS NULL OR resource_id = :resource OR run_id = :resource)
  AND (:resource_type IS NULL OR resource_type = :resource_type)
  AND (:actor IS NULL OR actor = :actor OR key_id = :actor OR user_name = :actor)
  AND (:verb IS NULL OR verb = :verb)
  AND (:since IS NULL OR at >= :since)
  AND (:until IS NULL OR at < :until)
  AND (:after IS NULL OR seq < :after)
ORDER BY seq DESC
LIMIT :limit;
