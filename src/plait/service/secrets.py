"""Secrets of an organization: set (sealed with ``PLAIT_SECRET_KEY``), list, delete, and the
key rotation that re-seals every stored secret. Values are write-only: nothing here returns
one (runs read them through ``plait.secrets.RunSecrets``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plait.errors import SecretNotFound
from plait.sealing import sealer_from_env
from plait.secrets import check_name, check_value, is_name

if TYPE_CHECKING:
    from plait.engine import Engine


class SecretService:
    """``engine.secrets``: ``await engine.secrets.set("TOKEN", value, org="acme")``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def set(self, name: str, value: str, *, org: str = "default") -> dict[str, Any]:
        """Create or replace the secret ``name`` of ``org``; return ``{name, createdAt,
        updatedAt}`` (never the value).

        Raises:
            SecretKeyMissing: ``PLAIT_SECRET_KEY`` is not set (nothing is stored).
            SecretInvalid, LimitExceeded: the name or the value cannot be stored.
        """
        resource, _ = await self.put(org, name, value)
        return resource

    async def put(self, org: str, name: str, value: str) -> tuple[dict[str, Any], bool]:
        """As :meth:`set`, and whether the secret was created (False: it was replaced)."""
        settings = self.engine.settings
        check_name(name, settings.max_name_length)
        check_value(value, settings.max_secret_bytes)
        sealed = sealer_from_env().seal(value)
        store = await self.engine.opened_registry()
        record, created = await store.put_secret(org, name, sealed, self.engine.clock.time())
        return record.resource(), created

    async def get(self, name: str, *, org: str = "default") -> dict[str, Any]:
        """``{name, createdAt, updatedAt}`` of one secret; ``SecretNotFound`` if none."""
        store = await self.engine.opened_registry()
        record = await store.get_secret(org, name) if is_name(name) else None
        if record is None:
            raise SecretNotFound(org, name)
        return record.resource()

    async def list(self, *, org: str = "default") -> list[dict[str, Any]]:
        """The secrets of ``org`` by name: names and timestamps only."""
        store = await self.engine.opened_registry()
        return [record.resource() for record in await store.list_secrets(org)]

    async def delete(self, name: str, *, org: str = "default") -> None:
        """Delete a secret; runs that read it afterwards fail naming it. ``SecretNotFound`` if
        there is none."""
        store = await self.engine.opened_registry()
        if not is_name(name) or not await store.delete_secret(org, name):
            raise SecretNotFound(org, name)

    async def rotate(self) -> dict[str, int]:
        """Re-seal every stored secret of every organization, and every webhook signing
        secret, under the newest key of ``PLAIT_SECRET_KEY`` (its first); return how many of
        each: ``{"secrets": n, "webhookSecrets": m}``.

        Rotation: put the new key first (``NEW,OLD``), rotate, then drop the old key. Each kind
        is re-sealed in one transaction; a value no configured key opens fails the rotation
        (``SecretUnreadable``) and leaves that kind unchanged.
        """
        sealer = sealer_from_env()
        store = await self.engine.opened_registry()
        secrets = await store.reseal_secrets(sealer.reseal)
        webhooks = await store.reseal_webhook_secrets(sealer.reseal)
        return {"secrets": secrets, "webhookSecrets": webhooks}
