"""SQLite verbs of the webhooks area (mixed into ``SQLiteStore``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from plait.store.areas.base import Area
from plait.store.session import Session
from plait.webhooks import WebhookExists, WebhookSpec


class WebhooksArea(Area):
    """Verbs for webhooks; queries in ``queries_webhooks.sql``.

    A webhook's secret is stored as given, not hashed: verifying a request's HMAC needs the key
    itself. Every verb is scoped to one organization.
    """

    async def create_webhook(self, spec: WebhookSpec) -> WebhookSpec:
        """Store ``spec`` (built and checked by ``plait.webhooks.new_webhook``) and return it.

        Raises:
            WebhookExists: ``spec.org`` has a webhook with that name (checked atomically).
        """
        params = {
            "org": spec.org, "id": spec.id, "name": spec.name, "scheme": spec.scheme,
            "secret": spec.secret, "event_type": spec.event_type, "mapping": spec.mapping,
            "created_at": spec.created_at,
        }  # fmt: skip

        def op(db: Session) -> WebhookSpec:
            if db.run("insert_webhook", params).rowcount == 0:
                raise WebhookExists(spec.org, spec.name)
            return spec

        created: WebhookSpec = await self._submit(op)
        return created

    async def get_webhook(self, org: str, name_or_id: str) -> WebhookSpec | None:
        """The webhook of ``org`` with that name or id, or ``None``."""
        row = await self._one("get_webhook", {"org": org, "key": name_or_id})
        return None if row is None else _webhook(row)

    async def list_webhooks(self, org: str) -> list[WebhookSpec]:
        """The webhooks of ``org``, by name."""
        return [_webhook(row) for row in await self._all("list_webhooks", {"org": org})]

    async def delete_webhook(self, org: str, name_or_id: str) -> bool:
        """Delete the webhook of ``org`` with that name or id; ``False`` if there was none."""
        params = {"org": org, "key": name_or_id}
        deleted: bool = await self._submit(lambda db: db.run("delete_webhook", params).rowcount > 0)
        return deleted


def _webhook(row: Sequence[Any]) -> WebhookSpec:
    return WebhookSpec(*row)
