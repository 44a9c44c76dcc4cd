"""API keys: each one a role in an organization, stored as a hash (the key is shown once)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from plait.store.backend import Backend
from plait.store.records import KeyRecord
from plait.store.session import Session


class KeyVerbs(Backend):
    """The API keys of each organization."""

    async def create_key(self, record: KeyRecord) -> bool:
        """Insert the key; False (and nothing written) if its id is taken."""
        params = {
            "org": record.org, "id": record.id, "role": record.role, "prefix": record.prefix,
            "hash": record.hash, "created_at": record.created_at, "user_name": record.user,
        }  # fmt: skip

        def op(db: Session) -> bool:
            return bool(db.run("insert_key", params).rowcount)

        created: bool = await self._submit(op)
        return created

    async def find_key_by_id(self, key_id: str) -> KeyRecord | None:
        """The key with that id, in any organization (revoked ones included)."""
        row = await self._one("key_by_id", {"id": key_id})
        return None if row is None else _key(row)

    async def list_keys(self, org: str) -> list[KeyRecord]:
        """The organization's keys, oldest first (revoked ones included)."""
        return [_key(row) for row in await self._all("keys_of_org", {"org": org})]

    async def revoke_key(self, org: str, key_id: str, *, now: float) -> KeyRecord | None:
        """Mark the key revoked (once: a second revoke keeps the first time); None if the
        organization has no key with that id."""
        params = {"org": org, "id": key_id, "now": now}

        def op(db: Session) -> KeyRecord | None:
            row = db.run("revoke_key", params).fetchone()
            return None if row is None else _key(row)

        revoked: KeyRecord | None = await self._submit(op)
        return revoked


def _key(row: Sequence[Any]) -> KeyRecord:
    revoked = None if row[6] is None else float(row[6])
    return KeyRecord(row[0], row[1], row[2], row[3], row[4], float(row[5]), revoked, row[7])
