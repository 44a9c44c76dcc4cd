"""Secrets: named values of an organization that workflows read.

The store keeps only sealed values (encrypted by the service layer, see ``plait.sealing``): no
verb takes or returns a plain value. Every verb but the key rotation is scoped to one
organization.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from plait.store.backend import Backend
from plait.store.records import SecretRecord
from plait.store.session import Session


class SecretVerbs(Backend):
    """Verbs for the secrets of organizations."""

    async def put_secret(
        self, org: str, name: str, sealed: str, now: float
    ) -> tuple[SecretRecord, bool]:
        """Create or replace the secret ``name`` of ``org`` with the sealed value, in one
        transaction; return it and whether it was created (False: replaced)."""
        params = {"org": org, "name": name, "sealed": sealed, "now": now}

        def op(db: Session) -> tuple[SecretRecord, bool]:
            existed = db.run("secret_meta", params).fetchone() is not None
            return _secret(db.run("upsert_secret", params).fetchone()), not existed

        stored: tuple[SecretRecord, bool] = await self._submit(op)
        return stored

    async def get_secret(self, org: str, name: str) -> SecretRecord | None:
        """The secret ``name`` of ``org`` (without its value), or ``None``."""
        row = await self._one("secret_meta", {"org": org, "name": name})
        return None if row is None else _secret(row)

    async def sealed_secret(self, org: str, name: str) -> str | None:
        """The sealed value of the secret ``name`` of ``org``, or ``None``."""
        row = await self._one("sealed_secret", {"org": org, "name": name})
        return None if row is None else str(row[0])

    async def sealed_secrets(self, org: str) -> dict[str, str]:
        """Every secret of ``org``: its sealed value by name."""
        rows = await self._all("sealed_secrets_of_org", {"org": org})
        return {str(name): str(sealed) for name, sealed in rows}

    async def list_secrets(self, org: str) -> list[SecretRecord]:
        """The secrets of ``org`` (without their values), by name."""
        return [_secret(row) for row in await self._all("secrets_of_org", {"org": org})]

    async def delete_secret(self, org: str, name: str) -> bool:
        """Delete the secret ``name`` of ``org``; ``False`` if there was none."""
        params = {"org": org, "name": name}
        deleted: bool = await self._submit(lambda db: db.run("delete_secret", params).rowcount > 0)
        return deleted

    async def reseal_secrets(self, reseal: Callable[[str], str]) -> int:
        """Replace the sealed value of every secret of every organization by
        ``reseal(sealed)``, in one transaction; return how many were resealed.

        A secret replaced meanwhile keeps its new value (each update is a compare-and-set on
        the value read). If ``reseal`` raises, nothing is changed.
        """

        def op(db: Session) -> int:
            rows = list(db.run("every_sealed_secret").fetchall())
            count = 0
            for org, name, sealed in rows:
                params = {"org": org, "name": name, "old": sealed, "sealed": reseal(str(sealed))}
                count += db.run("reseal_secret", params).rowcount
            return count

        resealed: int = await self._submit(op)
        return resealed


def _secret(row: Sequence[Any]) -> SecretRecord:
    return SecretRecord(str(row[0]), str(row[1]), float(row[2]), float(row[3]))
