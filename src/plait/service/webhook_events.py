"""What a verified webhook request becomes: an event, by the webhook's event type or by its
mapping (a CEL expression of the request's body and headers)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from plait.errors import PlaitError
from plait.service.signatures import lowered
from plait.store.records import WebhookRecord

MAX_EVENT_ID = 255
"""Longest event id taken from a request, in characters."""

MAX_EVENT_TYPE = 200
"""Longest event type a webhook may emit, in characters."""

MAPPING_NAMES = frozenset({"body", "headers"})
"""The names a webhook's mapping reads."""

_MAPPING_KEYS = frozenset({"type", "data", "id"})


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


def event_from_request(
    webhook: WebhookRecord, headers: Mapping[str, str], body: bytes
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
    named = lowered(headers)
    parsed = _parse(body)
    data = parsed if isinstance(parsed, dict) else {"body": parsed}
    default_id = _default_id(webhook.scheme, parsed, named)
    if webhook.mapping is not None:
        return _mapped(webhook, webhook.mapping, parsed, named, data, default_id)
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
    webhook: WebhookRecord,
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
        raise WebhookMappingError(
            name, f"the mapping gave {kind_of(result)}, not a map with a type"
        )
    unknown = sorted(str(k) for k in result if k not in _MAPPING_KEYS)
    if unknown:
        raise WebhookMappingError(
            name, f"the mapping gave unknown key {unknown[0]!r} (it may give type, data and id)"
        )
    event_type = result.get("type")
    problem = event_type_problem(event_type)
    if problem:
        raise WebhookMappingError(name, f"the mapping's type {problem}")
    mapped_data = result.get("data", data)
    if not isinstance(mapped_data, dict):
        raise WebhookMappingError(name, f"the mapping's data is {kind_of(mapped_data)}, not a map")
    event_id = result.get("id")
    if isinstance(event_id, int) and not isinstance(event_id, bool):
        event_id = str(event_id)
    elif event_id is not None and not isinstance(event_id, str):
        raise WebhookMappingError(name, f"the mapping's id is {kind_of(event_id)}, not a string")
    return str(event_type), mapped_data, _checked_id(name, event_id or default_id)


def _checked_id(webhook: str, event_id: str | None) -> str | None:
    if event_id is not None and len(event_id) > MAX_EVENT_ID:
        raise WebhookMappingError(webhook, f"the event id is longer than {MAX_EVENT_ID} characters")
    return event_id


def event_type_problem(value: Any) -> str | None:
    """What is wrong with ``value`` as an event type, or ``None``."""
    if not isinstance(value, str) or not value.strip():
        return f"is {kind_of(value)}, not a non-empty string"
    if len(value) > MAX_EVENT_TYPE:
        return f"is longer than {MAX_EVENT_TYPE} characters"
    return None


def kind_of(value: Any) -> str:
    """What ``value`` is, in the words of an error message (``a list``, ``null``)."""
    if value is None:
        return "null"
    names = {bool: "a bool", int: "an int", float: "a double", str: "a string", list: "a list"}
    if isinstance(value, str) and not value.strip():
        return "an empty string"
    return names.get(type(value), "a map" if isinstance(value, dict) else type(value).__name__)
