"""Webhooks: signed requests from outside systems become events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plait.errors import NotFound
from plait.webhooks import event_from_request, new_webhook, resource, verify

if TYPE_CHECKING:
    from plait.engine import Engine


class WebhookService:
    """``engine.webhooks``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def create(self, org: str, body: dict[str, Any]) -> dict[str, Any]:
        """``{name, secret, scheme, eventType | mapping}`` -> the webhook (without its secret)."""
        store = await self.engine.opened_registry()
        spec = new_webhook(
            org, str(body.get("name", "")), str(body.get("scheme", "hmac-sha256")),
            str(body.get("secret", "")), event_type=body.get("eventType"),
            mapping=body.get("mapping"), now=self.engine.clock.time(),
        )  # fmt: skip
        return resource(await store.create_webhook(spec))

    async def list(self, org: str) -> list[dict[str, Any]]:
        store = await self.engine.opened_registry()
        return [resource(w) for w in await store.list_webhooks(org)]

    async def delete(self, org: str, name: str) -> None:
        store = await self.engine.opened_registry()
        if not await store.delete_webhook(org, name):
            raise NotFound(f"no webhook {name!r}")

    async def receive(
        self, org: str, name: str, headers: dict[str, str], body: bytes
    ) -> dict[str, Any]:
        """Verify the signature (``SignatureRejected`` otherwise: nothing is stored), then emit
        the event the request maps to; return the event."""
        store = await self.engine.opened_registry()
        spec = await store.get_webhook(org, name)
        if spec is None:
            raise NotFound(f"no webhook {name!r}")
        verify(spec.scheme, spec.secret, headers, body, now=self.engine.clock.time())
        event_type, data, event_id = event_from_request(spec, headers, body)
        return await self.engine.events.emit(org, event_type, data, id=event_id, source="webhook")
