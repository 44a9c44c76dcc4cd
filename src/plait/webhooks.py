"""Webhooks: verify a request's signature, then turn the request into an event.

Pure functions, no I/O. Whoever serves ``POST /~{org}/webhooks/{name}`` looks the webhook up,
calls :func:`verify` with the raw body, then :func:`event_from_request`, and emits the event.

Every scheme is an HMAC-SHA256 keyed with the webhook's secret (its UTF-8 bytes), sent as 64 hex
digits (either case) and compared in constant time:

``hmac-sha256`` (generic)
    ``X-Signature-256: sha256=<hex>``; ``X-Signature`` is read when ``X-Signature-256`` is
    absent, and the ``sha256=`` prefix may be left out. Without a timestamp the signed payload
    is the raw body. With ``X-Signature-Timestamp: <unix seconds>`` (digits only) the signed
    payload is the header's digits, a dot, then the raw body (``b"1700000000." + body``), and
    the timestamp must be within the tolerance of now.
``stripe``
    ``Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]``; signed payload
    ``b"<t>." + body``; any ``v1`` may match (Stripe sends one per secret while a secret is
    rolled); other keys (``v0``) are ignored; ``t`` must be within the tolerance of now.
``github``
    ``X-Hub-Signature-256: sha256=<hex>`` of the raw body. GitHub signs no timestamp.

Replays: :func:`verify` returns the content the signature covers, and the webhook service keeps
a digest of it (with the webhook's id) for ``Settings.webhook_replay_seconds``: a request whose
signed content was already accepted starts nothing, whatever its unsigned headers say (a
changed ``X-GitHub-Delivery`` or ``X-Request-Id``). Timestamped schemes are also bounded by
their tolerance.

A timestamp is checked after the signature, so that "outside the tolerance" is only ever said of
a request signed with the secret (a clock skew or a replay), never of a forgery.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from plait.errors import PlaitError
from plait.ids import new_id
from plait.store.records import iso_time

SCHEMES = ("hmac-sha256", "stripe", "github")
"""The signature schemes a webhook can use."""

MAX_EVENT_ID = 255
"""Longest event id taken from a request, in characters."""

MAX_EVENT_TYPE = 200
"""Longest event type a webhook may emit, in characters."""

_HEX = re.compile(r"[0-9a-fA-F]{64}")
_SECONDS = re.compile(r"[0-9]{1,12}")
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
_MAX_HEADER = 8192  # longer signature headers are refused before any parsing
_MAX_SECRET = 1024
_MAPPING_NAMES = frozenset({"body", "headers"})
_MAPPING_KEYS = frozenset({"type", "data", "id"})


class SignatureRejected(PlaitError):
    """A webhook request's signature is missing, malformed, wrong or outside the tolerance.

    Attributes:
        reason: what is wrong, in plain words that are safe to send back to the caller, e.g.
            ``signature does not match``.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"webhook signature rejected: {reason}")


class StaleSignature(SignatureRejected):
    """A webhook request's signature matches, but its timestamp is outside the tolerance.

    A clock skew, or a replay. Said only of a request signed with the secret, so it may be told
    to the caller (other rejections get one uniform answer).
    """


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


class WebhookMappingError(PlaitError):
    """A webhook request cannot be turned into an event (its mapping failed or gave no type).

    Attributes:
        webhook: the webhook's name.
        reason: what went wrong.
    """

    def __init__(self, webhook: str, reason: str) -> None:
        self.webhook = webhook
        self.reason = reason
        super().__init__(f"webhook {webhook!r}: {reason}")


@dataclass(frozen=True, slots=True)
class WebhookSpec:
    """A stored webhook. Exactly one of ``event_type`` and ``mapping`` is set.

    ``secret`` cannot be hashed: verifying an HMAC needs the key itself. When ``sealed`` it is
    encrypted (``plait.sealing``), as stored; else it is the key itself (a new webhook, or a row
    stored before sealing existed). It is left out of ``repr`` (so logs and tracebacks do not
    show it) and of :func:`resource`.
    """

    id: str
    org: str
    name: str
    scheme: str
    secret: str = field(repr=False)
    event_type: str | None
    mapping: str | None
    created_at: float
    sealed: bool = False


# -- signatures ---------------------------------------------------------------------------------


def verify(
    scheme: str,
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    tolerance: float = 300.0,
) -> bytes:
    """Check a request's signature under ``scheme`` (see the module docstring for the formats)
    and return the content it covers (the body, or the timestamp, a dot and the body).

    Args:
        scheme: one of :data:`SCHEMES`.
        secret: the webhook's secret.
        headers: the request headers; names are matched case-insensitively.
        body: the raw request body, exactly as received.
        now: the current Unix time, to check signed timestamps against.
        tolerance: how far, in seconds, a signed timestamp may be from ``now`` either way.

    Raises:
        SignatureRejected: for any request that does not verify, whatever its headers hold.
    """
    check = _VERIFIERS.get(scheme)
    if check is None:
        raise SignatureRejected(f"unknown signature scheme {scheme!r}")
    if not secret:
        raise SignatureRejected("the webhook has no secret")
    return check(_key(secret), _lower(headers), body, now, tolerance)


def sign(scheme: str, secret: str, body: bytes, *, timestamp: float | None) -> dict[str, str]:
    """The signature headers a sender would send with ``body`` under ``scheme``.

    ``timestamp`` (Unix seconds, truncated to an integer) is required by ``stripe``, optional
    for ``hmac-sha256`` (``None`` signs the body alone) and ignored by ``github``.

    Raises:
        ValueError: an unknown scheme, or ``stripe`` without a timestamp.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown signature scheme {scheme!r}")
    key = _key(secret)
    if scheme == "github":
        return {"X-Hub-Signature-256": "sha256=" + _digest(key, body)}
    if timestamp is None:
        if scheme == "stripe":
            raise ValueError("a Stripe signature needs a timestamp")
        return {"X-Signature-256": "sha256=" + _digest(key, body)}
    stamp = str(int(timestamp))
    digest = _digest(key, stamp.encode() + b"." + body)
    if scheme == "stripe":
        return {"Stripe-Signature": f"t={stamp},v1={digest}"}
    return {"X-Signature-256": f"sha256={digest}", "X-Signature-Timestamp": stamp}


_Verifier = Callable[[bytes, Mapping[str, str], bytes, float, float], bytes]


def _verify_generic(
    key: bytes, headers: Mapping[str, str], body: bytes, now: float, tolerance: float
) -> bytes:
    name = "X-Signature-256"
    if name.lower() not in headers and "x-signature" in headers:
        name = "X-Signature"
    value = _signature_header(headers, name)
    candidate = value[7:] if value[:7].lower() == "sha256=" else value
    if not _HEX.fullmatch(candidate):
        raise SignatureRejected("malformed signature header")
    stamp = headers.get("x-signature-timestamp")
    if stamp is None:
        _compare(_digest(key, body), [candidate])
        return body
    stamp = stamp.strip() if isinstance(stamp, str) else ""
    if not _SECONDS.fullmatch(stamp):
        raise SignatureRejected("malformed timestamp header 'X-Signature-Timestamp'")
    signed = stamp.encode() + b"." + body
    _compare(_digest(key, signed), [candidate])
    _check_fresh(stamp, now, tolerance)
    return signed


def _verify_stripe(
    key: bytes, headers: Mapping[str, str], body: bytes, now: float, tolerance: float
) -> bytes:
    value = _signature_header(headers, "Stripe-Signature")
    stamps: list[str] = []
    candidates: list[str] = []
    for item in value.split(","):
        name, _, part = item.strip().partition("=")
        if name == "t":
            stamps.append(part)
        elif name == "v1" and _HEX.fullmatch(part):
            candidates.append(part)
    if len(stamps) != 1 or not _SECONDS.fullmatch(stamps[0]) or not candidates:
        raise SignatureRejected("malformed signature header")
    signed = stamps[0].encode() + b"." + body
    _compare(_digest(key, signed), candidates)
    _check_fresh(stamps[0], now, tolerance)
    return signed


def _verify_github(
    key: bytes, headers: Mapping[str, str], body: bytes, now: float, tolerance: float
) -> bytes:
    value = _signature_header(headers, "X-Hub-Signature-256")
    if not value.startswith("sha256=") or not _HEX.fullmatch(value[7:]):
        raise SignatureRejected("malformed signature header")
    _compare(_digest(key, body), [value[7:]])
    return body


_VERIFIERS: dict[str, _Verifier] = {
    "hmac-sha256": _verify_generic,
    "stripe": _verify_stripe,
    "github": _verify_github,
}


def _key(secret: str) -> bytes:
    # surrogatepass: a secret is text we were given, and must never make verify raise otherwise
    return secret.encode("utf-8", "surrogatepass")


def _digest(key: bytes, payload: bytes) -> str:
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(name).lower(): value for name, value in headers.items()}


def _signature_header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name.lower())
    if value is None:
        raise SignatureRejected(f"missing signature header {name!r}")
    if not isinstance(value, str) or len(value) > _MAX_HEADER or not value.isascii():
        raise SignatureRejected("malformed signature header")
    return value.strip()


def _compare(expected: str, candidates: list[str]) -> None:
    # Candidates are ASCII hex (checked by the callers), as compare_digest requires of str.
    if not any(hmac.compare_digest(expected, c.lower()) for c in candidates):
        raise SignatureRejected("signature does not match")


def _check_fresh(stamp: str, now: float, tolerance: float) -> None:
    if not abs(now - int(stamp)) <= tolerance:
        raise StaleSignature(f"timestamp outside the {tolerance:g}s tolerance")


# -- events -------------------------------------------------------------------------------------


def event_from_request(
    webhook: WebhookSpec, headers: Mapping[str, str], body: bytes
) -> tuple[str, dict[str, Any], str | None]:
    """The event a verified request emits: ``(type, data, id)``.

    ``data`` is the body parsed as JSON when it is a JSON object; any other body becomes
    ``{"body": value}``, where value is the parsed JSON (a list, a number ...) or, for a body
    that is not JSON, its text. The type is the webhook's ``event_type``, or comes from its
    ``mapping``: a CEL expression reading ``body`` (the parsed JSON, or the text) and
    ``headers`` (names lower-cased) that yields a map with ``type`` and, optionally, ``data``
    (a map; default the data above) and ``id``, e.g.
    ``{"type": "Stripe." + body.type, "data": body.data.object, "id": body.id}``.

    The id, unless the mapping gives one (a null or empty id counts as none): for ``stripe``
    the body's ``id``; for ``github`` the ``X-GitHub-Delivery`` header; else an
    ``X-Request-Id`` or ``Idempotency-Key`` header; else ``None`` (the store draws one, and a
    redelivery is then a second event).

    Raises:
        WebhookMappingError: the mapping failed or gave no type, bad data or a bad id.
    """
    lowered = _lower(headers)
    parsed = _parse(body)
    data = parsed if isinstance(parsed, dict) else {"body": parsed}
    default_id = _default_id(webhook.scheme, parsed, lowered)
    if webhook.mapping is not None:
        return _mapped(webhook, webhook.mapping, parsed, lowered, data, default_id)
    if webhook.event_type is None:
        raise WebhookMappingError(
            webhook.name, "the webhook has neither an event type nor a mapping"
        )
    return webhook.event_type, data, _checked_id(webhook.name, default_id)


def _parse(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode("utf-8", errors="replace")


def _default_id(scheme: str, parsed: Any, headers: Mapping[str, str]) -> str | None:
    if scheme == "stripe" and isinstance(parsed, dict):
        body_id = parsed.get("id")
        if isinstance(body_id, str) and body_id:
            return body_id
    names = ("x-github-delivery",) if scheme == "github" else ()
    for name in (*names, "x-request-id", "idempotency-key"):
        value = headers.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _mapped(
    webhook: WebhookSpec,
    mapping: str,
    parsed: Any,
    headers: dict[str, str],
    data: dict[str, Any],
    default_id: str | None,
) -> tuple[str, dict[str, Any], str | None]:
    from plait.expressions import EvaluationError, ExpressionError, compile_expression

    name = webhook.name
    try:
        result = compile_expression(mapping).evaluate({"body": parsed, "headers": headers})
    except ExpressionError as exc:
        raise WebhookMappingError(name, f"the mapping does not compile: {exc.reason}") from exc
    except EvaluationError as exc:
        raise WebhookMappingError(name, f"the mapping failed: {exc.reason}") from exc
    if not isinstance(result, dict):
        raise WebhookMappingError(name, f"the mapping gave {_kind(result)}, not a map with a type")
    unknown = sorted(str(k) for k in result if k not in _MAPPING_KEYS)
    if unknown:
        raise WebhookMappingError(
            name, f"the mapping gave unknown key {unknown[0]!r} (it may give type, data and id)"
        )
    event_type = result.get("type")
    problem = _event_type_problem(event_type)
    if problem:
        raise WebhookMappingError(name, f"the mapping's type {problem}")
    mapped_data = result.get("data", data)
    if not isinstance(mapped_data, dict):
        raise WebhookMappingError(name, f"the mapping's data is {_kind(mapped_data)}, not a map")
    event_id = result.get("id")
    if isinstance(event_id, int) and not isinstance(event_id, bool):
        event_id = str(event_id)
    elif event_id is not None and not isinstance(event_id, str):
        raise WebhookMappingError(name, f"the mapping's id is {_kind(event_id)}, not a string")
    return str(event_type), mapped_data, _checked_id(name, event_id or default_id)


def _checked_id(webhook: str, event_id: str | None) -> str | None:
    if event_id is not None and len(event_id) > MAX_EVENT_ID:
        raise WebhookMappingError(webhook, f"the event id is longer than {MAX_EVENT_ID} characters")
    return event_id


def _event_type_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return f"is {_kind(value)}, not a non-empty string"
    if len(value) > MAX_EVENT_TYPE:
        return f"is longer than {MAX_EVENT_TYPE} characters"
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    names = {bool: "a bool", int: "an int", float: "a double", str: "a string", list: "a list"}
    if isinstance(value, str) and not value.strip():
        return "an empty string"
    return names.get(type(value), "a map" if isinstance(value, dict) else type(value).__name__)


# -- webhooks -----------------------------------------------------------------------------------


def new_webhook(
    org: str,
    name: str,
    scheme: str,
    secret: str,
    event_type: str | None = None,
    mapping: str | None = None,
    *,
    now: float,
) -> WebhookSpec:
    """A new webhook (id ``webhook_`` + 8 base62 characters), its settings checked.

    Args:
        org: the organization that owns it.
        name: 1 to 63 of ``a-z 0-9 . _ -``, starting with a letter or digit, not ``webhook_…``
            (ids look like that); the URL is ``/~{org}/webhooks/{name}``.
        scheme: one of :data:`SCHEMES`.
        secret: the shared secret; stored as given, since verifying needs the key itself.
        event_type: the type of every event it emits; or
        mapping: a CEL expression computing the event (see :func:`event_from_request`).
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
        problem = _event_type_problem(event_type)
        if problem:
            raise WebhookInvalid(f"the event type {problem}", "eventType")
    if mapping is not None:
        _check_mapping(mapping)
    return WebhookSpec(new_id("webhook", 8), org, name, scheme, secret, event_type, mapping, now)


def resource(spec: WebhookSpec) -> dict[str, Any]:
    """The webhook as the API shows it: everything but the secret."""
    return {
        "$id": spec.id,
        "$type": "Webhook",
        "name": spec.name,
        "scheme": spec.scheme,
        "eventType": spec.event_type,
        "mapping": spec.mapping,
        "createdAt": iso_time(spec.created_at),
        "url": f"/~{spec.org}/webhooks/{spec.name}",
    }


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
        raise WebhookInvalid(f"the mapping is {_kind(mapping)}, not a string", "mapping")
    # Imported here: the store imports this module, and loading CEL costs a tenth of a second.
    from plait.expressions import ExpressionError, compile_expression

    try:
        expression = compile_expression(mapping)
        expression.check_cost()  # each delivery evaluates it: max_expression_cost
    except ExpressionError as exc:
        raise WebhookInvalid(f"the mapping does not compile: {exc.reason}", "mapping") from exc
    unknown = sorted(expression.names - _MAPPING_NAMES)
    if unknown:
        raise WebhookInvalid(
            f"the mapping reads unknown name {unknown[0]!r} (it can read body and headers)",
            "mapping",
        )
