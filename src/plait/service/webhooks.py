"""Webhooks: signed requests from outside systems become events.

Secrets are sealed at rest with the key in ``PLAIT_SECRET_KEY`` (``plait.sealing``): creating a
webhook without it is refused (``SecretKeyMissing``). Secrets stored in plain text before
sealing existed are sealed the first time the service is used in a process with a key set.

A request that does not prove the secret gets one answer whether or not the webhook exists
(``SignatureRejected`` with :data:`REJECTED`; the precise reason goes to the log): an unknown
name is verified against a random secret so that it costs the same work. A signed request
whose signed content was already accepted within ``Settings.webhook_replay_seconds`` (a replay,
whatever its unsigned headers say) stores nothing and answers the first delivery's event, as a
repeated event id does.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from plait import text, values
from plait.errors import ConfigurationError, NotFound, SerializationError
from plait.ids import new_id
from plait.sealing import SECRET_KEY_ENV, Sealer, SecretUnreadable, sealer_from_env
from plait.store.records import Delivery, EventRecord, event_value
from plait.webhooks import (
    SCHEMES,
    SignatureRejected,
    StaleSignature,
    WebhookSpec,
    event_from_request,
    new_webhook,
    resource,
    verify,
)

if TYPE_CHECKING:
    from plait.engine import Engine
    from plait.store.base import Store

log = logging.getLogger(__name__)

REJECTED = "the signature is missing, malformed or does not match"
"""The one reason told to a request that does not prove the secret, or names no webhook."""

_DECOY = secrets.token_hex(32)  # the secret an unknown name is verified against
_HEADERS = {"stripe-signature": "stripe", "x-hub-signature-256": "github"}


class WebhookService:
    """``engine.webhooks``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._swept = False
        self._sealer: tuple[str, Sealer, str] | None = None  # (keys, sealer, sealed decoy)

    async def create(self, org: str, body: dict[str, Any]) -> dict[str, Any]:
        """``{name, secret, scheme, eventType | mapping}`` -> the webhook (without its secret).

        Raises:
            WebhookInvalid: bad settings. SecretKeyMissing: ``PLAIT_SECRET_KEY`` is not set.
        """
        store = await self._store()
        spec = new_webhook(
            org, str(body.get("name", "")), str(body.get("scheme", "hmac-sha256")),
            str(body.get("secret", "")), event_type=body.get("eventType"),
            mapping=body.get("mapping"), now=self.engine.clock.time(),
        )  # fmt: skip
        sealed = replace(spec, secret=self.sealer().seal(spec.secret), sealed=True)
        return resource(await store.create_webhook(sealed))

    async def list(self, org: str) -> list[dict[str, Any]]:
        store = await self._store()
        return [resource(w) for w in await store.list_webhooks(org)]

    async def delete(self, org: str, name: str) -> None:
        store = await self._store()
        if not await store.delete_webhook(org, name):
            raise NotFound(f"no webhook {name!r}")

    async def receive(
        self, org: str, name: str, headers: dict[str, str], body: bytes
    ) -> dict[str, Any]:
        """Verify the signature (``SignatureRejected`` otherwise: nothing is stored), then emit
        the event the request maps to, unless its signed content was accepted before; return
        the event (the first delivery's for a replay), with ``duplicate``."""
        store = await self._store()
        spec = await store.get_webhook(org, name)
        signed = self._verified(org, name, spec, headers, body)
        assert spec is not None  # _verified refuses an unknown name
        from plait.expressions import cost_limit  # loading CEL is slow: only when needed

        with cost_limit(self.engine.settings.max_expression_cost):
            event_type, data, event_id = event_from_request(spec, headers, body)
        text.check_all({"type": event_type, "id": event_id})  # as emit checks them
        try:
            payload = values.encode(data)
        except TypeError as exc:
            raise SerializationError(
                "an event's data", values.offending_type(data), str(exc)
            ) from exc
        now = self.engine.clock.time()
        event = EventRecord(event_id or new_id("event"), org, event_type, payload, "webhook",
                            None, now)  # fmt: skip
        replay_window = self.engine.settings.webhook_replay_seconds
        delivery = Delivery(event, _digest(spec, signed), now + replay_window)
        stored, created = await store.emit_webhook_event(delivery, now)
        return {**event_value(stored), "duplicate": not created}

    def sealer(self) -> Sealer:
        """The sealer of the keys now in ``PLAIT_SECRET_KEY`` (``SecretKeyMissing`` without)."""
        keys = os.environ.get(SECRET_KEY_ENV, "")
        if self._sealer is None or self._sealer[0] != keys:
            sealer = sealer_from_env()
            self._sealer = (keys, sealer, sealer.seal(_DECOY))
        return self._sealer[1]

    async def _store(self) -> Store:
        """The store, after sealing any secret still stored in plain text (once a process, and
        only with a key set: without one, such webhooks keep working unsealed)."""
        store = await self.engine.opened_registry()
        if not self._swept and os.environ.get(SECRET_KEY_ENV, "").strip():
            count = await store.seal_webhook_secrets(self.sealer().seal)
            self._swept = True
            if count:
                log.info("sealed %d webhook secret(s) stored in plain text", count)
        return store

    def _verified(
        self, org: str, name: str, spec: WebhookSpec | None, headers: dict[str, str], body: bytes
    ) -> bytes:
        """The signed content of a request that proves ``spec``'s secret; else the uniform
        ``SignatureRejected`` (a stale timestamp, said only of a matching signature, is told)."""
        now = self.engine.clock.time()
        try:
            if spec is None:
                self._decoy()
                verify(_scheme_of(headers), _DECOY, headers, body, now=now)
                raise SignatureRejected("no webhook of that name")
            return verify(spec.scheme, self._secret(spec), headers, body, now=now)
        except StaleSignature:
            if spec is None:
                raise SignatureRejected(REJECTED) from None
            raise
        except SignatureRejected as exc:
            log.info("webhook request refused: %s", exc.reason,
                     extra={"org": org, "webhook": name[:100]})  # fmt: skip
            raise SignatureRejected(REJECTED) from None

    def _secret(self, spec: WebhookSpec) -> str:
        if not spec.sealed:
            return spec.secret
        try:
            return self.sealer().open(spec.secret)
        except (ConfigurationError, SecretUnreadable) as exc:
            # A server fault, logged for the operator; the caller gets the uniform 401 an
            # unknown name gets, so a broken key does not tell which webhooks exist.
            log.error("the secret of webhook %r of %r cannot be opened: %s", spec.name,
                      spec.org, exc)  # fmt: skip
            raise SignatureRejected("the webhook's secret cannot be opened") from exc

    def _decoy(self) -> None:
        """Open a sealed value as a known webhook's secret is opened (same work, same time)."""
        if os.environ.get(SECRET_KEY_ENV, "").strip():
            try:
                sealer = self.sealer()
            except ConfigurationError:
                return
            assert self._sealer is not None
            sealer.open(self._sealer[2])


def _scheme_of(headers: dict[str, str]) -> str:
    """The scheme whose signature header the request carries (``hmac-sha256`` by default), so
    that an unknown name runs the verifier a webhook of that scheme would."""
    names = {str(k).lower() for k in headers}
    return next((scheme for header, scheme in _HEADERS.items() if header in names), SCHEMES[0])


def _digest(spec: WebhookSpec, signed: bytes) -> str:
    """The replay digest: SHA-256 of the webhook's id and the content its signature covers."""
    return hashlib.sha256(spec.id.encode() + b"\0" + signed).hexdigest()
