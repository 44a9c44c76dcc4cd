"""Webhooks: signed requests from outside systems become events.

Whoever serves ``POST /~{org}/webhooks/{name}`` hands the request to
:meth:`WebhookService.receive` with its raw body: the service looks the webhook up, verifies the
signature (``plait.service.signatures``), builds the event (``plait.service.webhook_events``)
and emits it.

Secrets are sealed at rest with the key in ``PLAIT_SECRET_KEY`` (``plait.sealing``): creating a
webhook without it is refused (``SecretKeyMissing``). Secrets stored in plain text before
sealing existed are sealed the first time the service is used in a process with a key set.

A request that does not prove the secret gets one answer whether or not the webhook exists
(``SignatureRejected`` with :data:`REJECTED`; the precise reason goes to the log): an unknown
name is verified against a random secret so that it costs the same work. Replays: the service
keeps a digest of the content a signature covers (with the webhook's id) for
``Settings.webhook_replay_seconds``; a request whose signed content was already accepted (a
replay, whatever its unsigned headers say: a changed ``X-GitHub-Delivery`` or ``X-Request-Id``)
stores nothing and answers the first delivery's event, as a repeated event id does.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from plait import text, tracing, values
from plait.errors import ConfigurationError, NotFound, PlaitError, SerializationError
from plait.ids import new_id
from plait.resources.webhooks import Webhook, WebhookPage, WebhookReceipt
from plait.sealing import SECRET_KEY_ENV, Sealer, SecretUnreadable, sealer_from_env
from plait.service.audit import audited
from plait.service.pages import keyset_list
from plait.service.signatures import SCHEMES, SignatureRejected, StaleSignature, verify
from plait.service.webhook_events import (
    MAPPING_NAMES,
    event_from_request,
    event_type_problem,
    kind_of,
)
from plait.store.records import Delivery, EventRecord, WebhookRecord

if TYPE_CHECKING:
    from plait.service.deps import Deps
    from plait.store.base import Store

log = logging.getLogger(__name__)

REJECTED = "the signature is missing, malformed or does not match"
"""The one reason told to a request that does not prove the secret, or names no webhook."""

_DECOY = secrets.token_hex(32)  # the secret an unknown name is verified against
_HEADERS = {"stripe-signature": "stripe", "x-hub-signature-256": "github"}
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
_MAX_SECRET = 1024


class WebhookInvalid(PlaitError):
    """A webhook's settings are invalid.

    Attributes:
        reason: what is wrong.
        path: the field at fault as the API names it (``name``, ``scheme``, ``secret``,
            ``eventType``, ``mapping``).
    """

    def __init__(self, reason: str, path: str) -> None:
        self.reason = reason
        self.path = path
        super().__init__(f"invalid webhook: {reason}")


class WebhookExists(PlaitError):
    """The organization already has a webhook with that name."""

    def __init__(self, org: str, name: str) -> None:
        self.org = org
        self.name = name
        super().__init__(f"a webhook named {name!r} already exists")


class WebhookService:
    """``engine.webhooks``."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._swept = False
        self._sealer: tuple[str, Sealer, str] | None = None  # (keys, sealer, sealed decoy)

    async def create(self, org: str, body: dict[str, Any]) -> Webhook:
        """``{name, secret, scheme, eventType | mapping}`` -> the webhook (without its secret).

        Raises:
            WebhookInvalid: bad settings. WebhookExists: ``org`` has one of that name.
            SecretKeyMissing: ``PLAIT_SECRET_KEY`` is not set.
        """
        name = str(body.get("name", "")) if isinstance(body, dict) else ""
        async with audited(self.deps, org, "create", "webhook", name[:200] or "-") as change:
            created = await self._create(org, body)
            change.resource_id = created.name
            change.details = {"scheme": created.scheme}
            return created

    async def _create(self, org: str, body: dict[str, Any]) -> Webhook:
        store = await self._store()
        webhook = new_webhook(
            org, str(body.get("name", "")), str(body.get("scheme", "hmac-sha256")),
            str(body.get("secret", "")), event_type=body.get("eventType"),
            mapping=body.get("mapping"), now=self.deps.now(),
        )  # fmt: skip
        sealed = replace(webhook, secret=self.sealer().seal(webhook.secret), sealed=True)
        if not await store.create_webhook(sealed):
            raise WebhookExists(org, webhook.name)
        return Webhook.of(sealed)

    async def find(self, org: str, *, limit: int = 100, cursor: str | None = None) -> WebhookPage:
        """The webhooks of ``org`` by name, a page at a time (never their secrets)."""
        store = await self._store()
        found = await store.list_webhooks(org)
        shown, next_cursor = keyset_list(found, limit, cursor, "webhooks", lambda w: [w.name],
                                         (str,))  # fmt: skip
        return WebhookPage(items=[Webhook.of(w) for w in shown], next_cursor=next_cursor)

    async def delete(self, org: str, name: str) -> None:
        """Delete the webhook of ``org`` with that name (or id); ``NotFound`` if none."""
        async with audited(self.deps, org, "delete", "webhook", name):
            store = await self._store()
            if not await store.delete_webhook(org, name):
                raise NotFound(f"no webhook {name!r}")

    async def receive(
        self, org: str, name: str, headers: dict[str, str], body: bytes
    ) -> WebhookReceipt:
        """Verify the signature (``SignatureRejected`` otherwise: nothing is stored), then emit
        the event the request maps to, unless its signed content was accepted before; return
        the event's id (the first delivery's for a replay), with ``duplicate``."""
        store = await self._store()
        spec = await store.get_webhook(org, name)
        signed = self._verified(org, name, spec, headers, body)
        assert spec is not None  # _verified refuses an unknown name
        from plait.expressions import cost_limit  # loading CEL is slow: only when needed

        with cost_limit(self.deps.settings.max_expression_cost):
            event_type, data, event_id = event_from_request(spec, headers, body)
        text.check_all({"type": event_type, "id": event_id})  # as emit checks them
        try:
            payload = values.encode(data)
        except TypeError as exc:
            raise SerializationError(
                "an event's data", values.offending_type(data), str(exc)
            ) from exc
        now = self.deps.now()
        with tracing.emitting(org, event_type, "webhook") as span:
            event = EventRecord(event_id or new_id("event"), org, event_type, payload, "webhook",
                                None, now, tracing.carrier())  # fmt: skip
            replay_window = self.deps.settings.webhook_replay_seconds
            delivery = Delivery(event, _digest(spec, signed), now + replay_window)
            stored, created = await store.emit_webhook_event(delivery, now)
            if span is not None:
                tracing.emitted(span, stored.id, stored.data)
        if created:
            self.deps.metrics.inc("plait_events_emitted_total", "webhook")
        return WebhookReceipt(id=stored.id, duplicate=not created)

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
        store = await self.deps.store()
        if not self._swept and os.environ.get(SECRET_KEY_ENV, "").strip():
            count = await store.seal_webhook_secrets(self.sealer().seal)
            self._swept = True
            if count:
                log.info("sealed %d webhook secret(s) stored in plain text", count)
        return store

    def _verified(
        self, org: str, name: str, spec: WebhookRecord | None, headers: dict[str, str], body: bytes
    ) -> bytes:
        """The signed content of a request that proves ``spec``'s secret; else the uniform
        ``SignatureRejected`` (a stale timestamp, said only of a matching signature, is told)."""
        now = self.deps.now()
        try:
            if spec is None:
                self._decoy()
                verify(_scheme_of(headers), _DECOY, headers, body, now=now)
                raise SignatureRejected("no webhook of that name")
            return verify(spec.scheme, self._secret(spec), headers, body, now=now)
        except StaleSignature:
            if spec is None:
                self.deps.metrics.inc("plait_webhook_verification_failures_total", "rejected")
                raise SignatureRejected(REJECTED) from None
            self.deps.metrics.inc("plait_webhook_verification_failures_total", "stale")
            raise
        except SignatureRejected as exc:
            self.deps.metrics.inc("plait_webhook_verification_failures_total", "rejected")
            log.info("webhook request refused: %s", exc.reason,
                     extra={"org": org, "webhook": name[:100]})  # fmt: skip
            raise SignatureRejected(REJECTED) from None

    def _secret(self, spec: WebhookRecord) -> str:
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


def _digest(spec: WebhookRecord, signed: bytes) -> str:
    """The replay digest: SHA-256 of the webhook's id and the content its signature covers."""
    return hashlib.sha256(spec.id.encode() + b"\0" + signed).hexdigest()


# -- the rules of a webhook's settings ----------------------------------------------------------


def new_webhook(
    org: str,
    name: str,
    scheme: str,
    secret: str,
    event_type: str | None = None,
    mapping: str | None = None,
    *,
    now: float,
) -> WebhookRecord:
    """A new webhook (id ``webhook_`` + 8 base62 characters), its settings checked.

    Args:
        org: the organization that owns it.
        name: 1 to 63 of ``a-z 0-9 . _ -``, starting with a letter or digit, not ``webhook_…``
            (ids look like that); the URL is ``/~{org}/webhooks/{name}``.
        scheme: one of :data:`SCHEMES`.
        secret: the shared secret; stored as given, since verifying needs the key itself.
        event_type: the type of every event it emits; or
        mapping: a CEL expression computing the event (see ``plait.service.webhook_events``).
        now: the creation time, in Unix seconds.

    Raises:
        WebhookInvalid: a bad name, scheme or secret, not exactly one of ``event_type`` and
            ``mapping``, or a mapping that does not compile or reads names other than
            ``body`` and ``headers``.
    """
    _check_name(name)
    if scheme not in SCHEMES:
        raise WebhookInvalid(f"unknown scheme {scheme!r} (use {', '.join(SCHEMES)})", "scheme")
    _check_secret(secret)
    if event_type is None and mapping is None:
        raise WebhookInvalid("give an event type or a mapping", "eventType")
    if event_type is not None and mapping is not None:
        raise WebhookInvalid("give an event type or a mapping, not both", "mapping")
    if event_type is not None:
        problem = event_type_problem(event_type)
        if problem:
            raise WebhookInvalid(f"the event type {problem}", "eventType")
    if mapping is not None:
        _check_mapping(mapping)
    return WebhookRecord(new_id("webhook", 8), org, name, scheme, secret, event_type, mapping, now)


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise WebhookInvalid(
            f"name {name!r} must be 1 to 63 of a-z, 0-9, '.', '_' and '-', "
            "starting with a letter or digit",
            "name",
        )
    if name.startswith("webhook_"):
        raise WebhookInvalid(f"name {name!r} cannot start with 'webhook_' (ids do)", "name")


def _check_secret(secret: str) -> None:
    if not isinstance(secret, str) or not secret:
        raise WebhookInvalid("the secret is empty", "secret")
    if len(secret) > _MAX_SECRET:
        raise WebhookInvalid(f"the secret is longer than {_MAX_SECRET} characters", "secret")
    if secret != secret.strip():
        # Almost always a pasting accident, and every signature would then fail to match.
        raise WebhookInvalid("the secret starts or ends with whitespace", "secret")


def _check_mapping(mapping: str) -> None:
    if not isinstance(mapping, str):
        raise WebhookInvalid(f"the mapping is {kind_of(mapping)}, not a string", "mapping")
    # Imported here: loading CEL costs a tenth of a second.
    from plait.expressions import ExpressionError, compile_expression

    try:
        expression = compile_expression(mapping)
        expression.check_cost()  # each delivery evaluates it: max_expression_cost
    except ExpressionError as exc:
        raise WebhookInvalid(f"the mapping does not compile: {exc.reason}", "mapping") from exc
    unknown = sorted(expression.names - MAPPING_NAMES)
    if unknown:
        raise WebhookInvalid(
            f"the mapping reads unknown name {unknown[0]!r} (it can read body and headers)",
            "mapping",
        )
