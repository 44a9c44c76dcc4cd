"""Secrets of an organization: set (sealed with ``PLAIT_SECRET_KEY``), list, delete, and the
key rotation that re-seals every stored secret. Values are write-only: nothing here returns
one (runs read them through ``plait.secrets.RunSecrets``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from plait.errors import SecretNotFound
from plait.resources.secrets import Rotation, Secret, SecretPage
from plait.sealing import sealer_from_env
from plait.secrets import check_name, check_value, is_name
from plait.service.audit import EVERY_ORG, audited
from plait.service.pages import keyset_list

if TYPE_CHECKING:
    from plait.service.deps import Deps


@dataclass(frozen=True, slots=True)
class SecretSet:
    """What :meth:`SecretService.set` did: the secret (never its value) and whether it was
    created (False: an existing secret's value was replaced)."""

    secret: Secret
    created: bool


class SecretService:
    """``engine.secrets``: ``await engine.secrets.set("acme", "TOKEN", value)``."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def set(self, org: str, name: str, value: str) -> SecretSet:
        """Create or replace the secret ``name`` of ``org``; return it (its name and
        timestamps, never the value) and whether it was created.

        Raises:
            SecretKeyMissing: ``PLAIT_SECRET_KEY`` is not set (nothing is stored).
            SecretInvalid, LimitExceeded: the name or the value cannot be stored.
        """
        # The entry names the secret, never its value (nor its length).
        async with audited(self.deps, org, "set", "secret", str(name)[:200]) as change:
            settings = self.deps.settings
            check_name(name, settings.max_name_length)
            check_value(value, settings.max_secret_bytes)
            sealed = sealer_from_env().seal(value)
            store = await self.deps.store()
            record, created = await store.put_secret(org, name, sealed, self.deps.now())
            change.details = {"created": created}
            return SecretSet(secret=Secret.of(record), created=created)

    async def get(self, org: str, name: str) -> Secret:
        """The name and timestamps of one secret; ``SecretNotFound`` if none."""
        store = await self.deps.store()
        record = await store.get_secret(org, name) if is_name(name) else None
        if record is None:
            raise SecretNotFound(org, name)
        return Secret.of(record)

    async def find(self, org: str, *, limit: int = 100, cursor: str | None = None) -> SecretPage:
        """The secrets of ``org`` by name, a page at a time: names and timestamps only."""
        found = await (await self.deps.store()).list_secrets(org)
        shown, next_cursor = keyset_list(found, limit, cursor, "secrets", lambda s: [s.name],
                                         (str,))  # fmt: skip
        return SecretPage(items=[Secret.of(s) for s in shown], next_cursor=next_cursor)

    async def delete(self, org: str, name: str) -> None:
        """Delete a secret; runs that read it afterwards fail naming it. ``SecretNotFound`` if
        there is none."""
        async with audited(self.deps, org, "delete", "secret", str(name)[:200]):
            store = await self.deps.store()
            if not is_name(name) or not await store.delete_secret(org, name):
                raise SecretNotFound(org, name)

    async def rotate(self) -> Rotation:
        """Re-seal every stored secret of every organization, and every webhook signing
        secret, under the newest key of ``PLAIT_SECRET_KEY`` (its first); return how many of
        each.

        Rotation: put the new key first (``NEW,OLD``), rotate, then drop the old key. Each kind
        is re-sealed in one transaction; a value no configured key opens fails the rotation
        (``SecretUnreadable``) and leaves that kind unchanged.
        """
        # Of every organization: audited in the operators' trail (``plait audit list --org '*'``).
        async with audited(self.deps, EVERY_ORG, "rotate", "secret", "*") as change:
            sealer = sealer_from_env()
            store = await self.deps.store()
            secrets = await store.reseal_secrets(sealer.reseal)
            webhooks = await store.reseal_webhook_secrets(sealer.reseal)
            change.details = {"secrets": secrets, "webhookSecrets": webhooks}
            return Rotation(secrets=secrets, webhook_secrets=webhooks)
