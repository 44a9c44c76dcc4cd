"""The audit trail: who changed what, when, from where, and how it ended.

Append-only: the verbs below add an entry, read entries, and delete the oldest ones past the
retention; nothing updates an entry, and nothing else deletes one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from plait.store.backend import Backend


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One stored audit entry (``seq`` is 0 until it is stored)."""

    id: str
    org: str
    at: float
    actor: str
    """Who acted, as shown: the key's person, else the key's id, else a local caller's name."""
    key_id: str | None
    user: str | None
    role: str | None
    interface: str
    """``api``, ``cli``, ``python``, ``console`` or ``mcp``."""
    address: str | None
    """Where from: the client's address over HTTP, the host's name from the shell."""
    verb: str
    resource_type: str
    resource_id: str
    run_id: str | None
    """The run the change concerns, if any (``?include=audit`` on a run reads by it)."""
    version_before: int | None
    version_after: int | None
    result: str
    """``ok``, ``denied`` or ``failed``."""
    error: str | None
    """The error type of a denied or failed change."""
    details: bytes
    """A small JSON object (never a secret's value)."""
    seq: int = 0


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What a page of the trail keeps (``None``: any)."""

    resource: str | None = None
    """A resource id, or the id of the run an entry concerns."""
    actor: str | None = None
    """The shown actor, a key id or a person."""
    verb: str | None = None
    since: float | None = None
    until: float | None = None
    resource_type: str | None = None
    """A resource type (``schedule``, ``key``, ...)."""


class AuditVerbs(Backend):
    """The audit trail of each organization."""

    async def append_audit(self, record: AuditRecord) -> None:
        """Add one entry (its own transaction, group-committed with the writes around it)."""
        params = {
            "id": record.id, "org": record.org, "at": record.at, "actor": record.actor,
            "key_id": record.key_id, "user_name": record.user, "role": record.role,
            "interface": record.interface, "address": record.address, "verb": record.verb,
            "resource_type": record.resource_type, "resource_id": record.resource_id,
            "run_id": record.run_id, "version_before": record.version_before,
            "version_after": record.version_after, "result": record.result,
            "error": record.error, "details": record.details.decode(),
        }  # fmt: skip
        await self._submit(lambda db: db.run("insert_audit_entry", params))

    async def page_audit(
        self, org: str, where: AuditFilter, after: int | None, limit: int
    ) -> list[AuditRecord]:
        """Up to ``limit`` entries of ``org`` matching ``where``, newest first, after the entry
        ``seq == after`` of the previous page; one read."""
        params = {
            "org": org, "resource": where.resource, "actor": where.actor, "verb": where.verb,
            "since": where.since, "until": where.until, "after": after, "limit": limit,
            "resource_type": where.resource_type,
        }  # fmt: skip
        return [_entry(row) for row in await self._all("page_audit", params)]

    async def audit_of_run(self, org: str, run_id: str, limit: int) -> list[AuditRecord]:
        """The first ``limit`` entries that concern the run ``run_id``, oldest first."""
        params = {"org": org, "run_id": run_id, "limit": limit}
        return [_entry(row) for row in await self._all("audit_of_run", params)]

    async def prune_audit(self, before: float, limit: int) -> int:
        """Delete up to ``limit`` of the oldest entries (of every organization) written before
        ``before``, in one transaction; how many were deleted."""
        params = {"before": before, "limit": limit}
        deleted: int = await self._submit(lambda db: db.run("prune_audit_entries", params).rowcount)
        return deleted


def _entry(row: Sequence[Any]) -> AuditRecord:
    (seq, id, org, at, actor, key_id, user, role, interface, address, verb, resource_type,
     resource_id, run_id, before, after, result, error, details) = row  # fmt: skip
    return AuditRecord(
        id, org, float(at), actor, key_id, user, role, interface, address, verb, resource_type,
        resource_id, run_id, None if before is None else int(before),
        None if after is None else int(after), result, error, str(details).encode(), int(seq),
    )  # fmt: skip
