-- Named queries of plait.store.audit, the same in both dialects. Each block starts with
-- "-- name: NAME"; a dialect's queries/audit.sql replaces a query of the same name. The trail is
-- append-only: there is an insert, reads, and the retention's delete of the oldest rows, and no
-- update of any kind.

-- name: insert_audit_entry
INSERT INTO audit_entries (id, org, at, actor, key_id, user_name, role, interface, address, verb,
                           resource_type, resource_id, run_id, version_before, version_after,
                           result, error, details)
VALUES (:id, :org, :at, :actor, :key_id, :user_name, :role, :interface, :address, :verb,
        :resource_type, :resource_id, :run_id, :version_before, :version_after, :result, :error,
        :details);

-- name: audit_of_run
-- The entries of one run (its start, trigger and operations, its tasks), oldest first.
SELECT seq, id, org, at, actor, key_id, user_name, role, interface, address, verb,
       resource_type, resource_id, run_id, version_before, version_after, result, error, details
FROM audit_entries
WHERE org = :org AND run_id = :run_id
ORDER BY seq
LIMIT :limit;

-- name: prune_audit_entries
-- Retention: the oldest entries written before :before, at most :limit of them.
DELETE FROM audit_entries
WHERE seq IN (
    SELECT seq FROM audit_entries WHERE at < :before ORDER BY seq LIMIT :limit
);
