"""Webhooks: named endpoints that turn verified HTTP requests into events of an organization.

A webhook's secret is stored as the caller gives it (the webhook service seals it first:
``record.sealed``); verifying a request's HMAC needs the key itself, so it cannot be hashed.
Every verb is scoped to one organization, but for the key-rotation verbs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from plait.store.backend import Backend
from plait.store.events import fetch_event, store_event
from plait.store.records import Delivery, EventRecord, WebhookRecord
from plait.store.session import Session

PRUNE_BATCH = 100
"""Expired replay digests deleted by each accepted delivery, at most."""


class WebhookVerbs(Backend):
    """The webhooks of each organization, and the deliveries they accept."""

    async def create_webhook(self, webhook: WebhookRecord) -> bool:
        """Store ``webhook``; ``False`` (nothing stored) if its organization already has a
        webhook with that name (checked atomically)."""
        params = {
            "org": webhook.org, "id": webhook.id, "name": webhook.name,
            "scheme": webhook.scheme, "secret": webhook.secret, "event_type": webhook.event_type,
            "mapping": webhook.mapping, "created_at": webhook.created_at, "sealed": webhook.sealed,
        }  # fmt: skip
        created: bool = await self._submit(lambda db: db.run("insert_webhook", params).rowcount > 0)
        return created

    async def get_webhook(self, org: str, name_or_id: str) -> WebhookRecord | None:
        """The webhook of ``org`` with that name or id, or ``None``."""
        row = await self._one("get_webhook", {"org": org, "key": name_or_id})
        return None if row is None else _webhook(row)

    async def list_webhooks(self, org: str) -> list[WebhookRecord]:
        """The webhooks of ``org``, by name."""
        return [_webhook(row) for row in await self._all("list_webhooks", {"org": org})]

    async def delete_webhook(self, org: str, name_or_id: str) -> bool:
        """Delete the webhook of ``org`` with that name or id; ``False`` if there was none."""
        params = {"org": org, "key": name_or_id}
        deleted: bool = await self._submit(lambda db: db.run("delete_webhook", params).rowcount > 0)
        return deleted

    async def seal_webhook_secrets(self, seal: Callable[[str], str]) -> int:
        """Seal every secret still stored in plain text (stored before sealing existed) with
        ``seal``, in one transaction; return how many were sealed."""
        return int(await self._submit(lambda db: _rewrite_secrets(db, seal, sealed=False)))

    async def reseal_webhook_secrets(self, reseal: Callable[[str], str]) -> int:
        """Re-seal every sealed webhook secret, of every organization, with ``reseal`` (for key
        rotation: ``Sealer.reseal``), in one transaction; return how many. If ``reseal`` raises
        for one, none is changed. Secrets still in plain text are left to
        :meth:`seal_webhook_secrets`."""
        return int(await self._submit(lambda db: _rewrite_secrets(db, reseal, sealed=True)))

    async def emit_webhook_event(self, delivery: Delivery, now: float) -> tuple[EventRecord, bool]:
        """Store and dispatch ``delivery.event`` unless its digest was seen, in one transaction.

        A digest still live (not past its ``expires_at``) marks a replay: nothing is stored and
        the event the first delivery stored is returned. Otherwise the digest is claimed until
        ``delivery.expires_at`` and the event stored as ``emit`` would (once per id: a repeated
        id returns the stored event). Of concurrent deliveries of one digest, on any backend and
        from any process, exactly one stores its event. A few expired digests are pruned.

        Returns:
            The event (the stored one for a replay or a repeated id), and whether it is new.
        """
        event = delivery.event
        claim = {"org": event.org, "digest": delivery.digest, "event_id": event.id,
                 "expires_at": delivery.expires_at, "now": now}  # fmt: skip

        def op(db: Session) -> tuple[EventRecord, bool]:
            db.run("prune_webhook_deliveries", {"now": now, "limit": PRUNE_BATCH})
            if db.run("claim_webhook_delivery", claim).rowcount == 0:
                first = db.run("webhook_delivery_event", claim).fetchone()
                return fetch_event(db, event.org, first[0]), False
            if not store_event(db, event):
                return fetch_event(db, event.org, event.id), False
            return event, True

        result: tuple[EventRecord, bool] = await self._submit(op)
        return result


def _rewrite_secrets(db: Session, rewrite: Callable[[str], str], *, sealed: bool) -> int:
    rows = db.run("webhook_secrets", {"sealed": sealed}).fetchall()
    for org, webhook_id, secret in rows:
        params = {"org": org, "id": webhook_id, "secret": rewrite(secret), "sealed": True,
                  "was_sealed": sealed}  # fmt: skip
        db.run("set_webhook_secret", params)
    return len(rows)


def _webhook(row: Sequence[Any]) -> WebhookRecord:
    webhook_id, org, name, scheme, secret, event_type, mapping, created_at, sealed = row
    return WebhookRecord(webhook_id, org, name, scheme, secret, event_type, mapping, created_at,
                       bool(sealed))  # fmt: skip
