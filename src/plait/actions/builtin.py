"""Built-in actions: ``http``, ``emit``, ``log``, ``email`` (``plait.actions.email``), and the
document actions (``Deal.create`` ...).

Each takes the step's resolved input and an :class:`ActionContext`. Inputs are checked strictly:
an unknown option fails the step with its name, rather than being ignored.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from typing import Any

import httpx
import orjson

from plait import tracing
from plait.actions.base import ActionContext, ActionError, Actions
from plait.actions.documents import make_document_action
from plait.actions.email import email
from plait.metrics import count_run_event
from plait.runtime.business_metrics import METRIC_ACTIONS
from plait.secrets import redacted, redacted_value
from plait.store.records import keyed_event_id
from plait.values import encode

_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"})
_HTTP_OPTIONS = frozenset({"method", "url", "headers", "json", "body", "params", "timeout"})
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
_ERROR_BODY_CHARS = 200


def register_builtins(actions: Actions) -> None:
    """Register ``http``, ``emit``, ``log``, ``email`` and the ``<Noun>.<verb>`` document
    actions. An ``email`` action the application registered first is kept (the name is common)."""
    actions.register("http", http)
    actions.register("emit", emit)
    actions.register("log", log)
    if not actions.known("email"):
        actions.register("email", email)
    for name in METRIC_ACTIONS:  # kept when the application registered its own
        if not actions.known(name):
            actions.register(name, metric)
    actions.set_document_handler(make_document_action)


def http_client() -> httpx.AsyncClient:
    """A client configured as the ``http`` action expects (redirects followed)."""
    return httpx.AsyncClient(follow_redirects=True, headers={"user-agent": "plait"})


async def close_builtins(clients: dict[str, Any]) -> None:
    """Close what the built-ins keep in ``clients`` (the HTTP client); call once, at shutdown."""
    client = clients.pop("http", None)
    if isinstance(client, httpx.AsyncClient):
        await client.aclose()


# -- http -------------------------------------------------------------------------------------


async def http(input: Any, ctx: ActionContext) -> dict[str, Any]:
    """Send an HTTP request; return ``{status, headers, body}`` (JSON bodies parsed).

    Input: ``{method="GET", url, headers={}, json=None, body=None, params={}, timeout=30}``, or
    a URL to GET. A status outside 2xx, a timeout or a connection error raises ``ActionError``.
    """
    method, url, options = _http_request(input)
    where = f"{method} {url}"
    try:
        response = await _send(_client(ctx.clients), method, url, options)
    except httpx.TimeoutException as exc:
        seconds = options["timeout"]
        raise ActionError(f"{where} timed out after {seconds:g}s ({type(exc).__name__})") from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise ActionError(f"{where} failed: {type(exc).__name__}: {exc}") from exc
    if not response.is_success:
        excerpt = response.text[:_ERROR_BODY_CHARS]
        raise ActionError(f"HTTP {response.status_code} from {where}: {excerpt}")
    return {
        "status": response.status_code,
        "headers": dict(response.headers),
        "body": _body(response),
    }


async def _send(
    client: httpx.AsyncClient, method: str, url: str, options: dict[str, Any]
) -> httpx.Response:
    """The request, inside a CLIENT span whose ``traceparent`` it carries while tracing is on."""
    traced = tracing.ACTIVE
    if traced is None:
        return await client.request(method, url, **options)
    with traced.http_client(method, url, options["headers"]) as span:
        response = await client.request(method, url, **options)
        traced.responded(span, response.status_code)
        return response


def _http_request(input: Any) -> tuple[str, str, dict[str, Any]]:
    """Check the ``http`` input; return the method, the URL and httpx's keyword arguments."""
    spec = _options({"url": input} if isinstance(input, str) else input, "http", _HTTP_OPTIONS)
    method = str(spec.get("method", "GET")).upper()
    url = spec.get("url")
    body = spec.get("body")
    timeout = spec.get("timeout", 30)
    if method not in _METHODS:
        raise ActionError(f"http: unknown method {method!r}")
    if not isinstance(url, str) or not url:
        raise ActionError("http: 'url' must be a non-empty string")
    if body is not None and not isinstance(body, str):
        raise ActionError("http: 'body' must be a string (send objects with 'json')")
    if body is not None and spec.get("json") is not None:
        raise ActionError("http: give 'json' or 'body', not both")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ActionError("http: 'timeout' must be a positive number of seconds")
    return (
        method,
        url,
        {
            "headers": _mapping(spec.get("headers"), "headers", str_values=True),
            "params": _mapping(spec.get("params"), "params", str_values=False),
            "json": spec.get("json"),
            "content": body,
            "timeout": float(timeout),
        },
    )


def _client(clients: dict[str, Any]) -> httpx.AsyncClient:
    """The client kept in ``clients``, made on first use.

    Kept there rather than in a module global: the clients dict lives as long as its engine,
    and a client's pooled connections belong to the event loop that opened them.
    """
    client = clients.get("http")
    if not isinstance(client, httpx.AsyncClient) or client.is_closed:
        client = clients["http"] = http_client()
    return client


def _body(response: httpx.Response) -> Any:
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        # Declared JSON but not parseable: the text lets the workflow see what came back.
        with contextlib.suppress(orjson.JSONDecodeError):
            return orjson.loads(response.content)
    return response.text


def _mapping(value: Any, name: str, *, str_values: bool) -> dict[str, Any]:
    """Headers as strings; query values as httpx sends them (scalars, or lists for repeats)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ActionError(f"http: '{name}' must be an object")
    if str_values:
        return {
            str(k): v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in value.items()
        }
    for key, item in value.items():
        items = item if isinstance(item, list) else [item]
        if not all(isinstance(i, str | int | float | bool) or i is None for i in items):
            raise ActionError(f"http: query parameter {key!r} must be a scalar or a list of them")
    return {str(k): v for k, v in value.items()}


# -- emit and log -----------------------------------------------------------------------------


async def emit(input: Any, ctx: ActionContext) -> dict[str, Any]:
    """Store an event: input ``{type, data={}, id=None}``; returns ``{"$id", "type"}``.

    Without an ``id`` the event's id is derived from the step, so a retried or replayed step
    stores its event once.
    """
    spec = _options(input, "emit", frozenset({"type", "data", "id"}))
    event_type = spec.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise ActionError("emit: 'type' must be a non-empty string")
    event_id = spec.get("id")
    if event_id is not None and (not isinstance(event_id, str) or not event_id):
        raise ActionError("emit: 'id' must be a non-empty string")
    data = spec.get("data")
    stored = await ctx.store.emit(
        ctx.org,
        event_type,
        encode({} if data is None else data),
        event_id=event_id or keyed_event_id(ctx.step_id),
        source="action",
        run_id=ctx.run_id,
        now=ctx.clock.time(),
    )
    count_run_event("action", stored)
    record = stored[0]
    return {"$id": record.id, "type": record.type}


# -- metric -------------------------------------------------------------------------------------


async def metric(input: Any) -> dict[str, Any]:
    """Record business metrics: input ``{name, value, labels}``, or an object whose keys that
    name declared metrics give their values and whose other keys are labels (brief 002:
    ``{workflow, duration, status}``). Returns its input: the interpreter records the values
    once the step is recorded (see ``plait.interpreter.metrics``), so a retry or a replay
    records nothing twice."""
    if not isinstance(input, dict):
        raise ActionError(f"metric: expected an object, not {type(input).__name__}")
    return input


async def log(input: Any, ctx: ActionContext) -> str:
    """Log a message: input ``{message, level="info", data=None}`` or the message; returns it."""
    spec = _options(
        {"message": input} if isinstance(input, str) else input,
        "log",
        frozenset({"message", "level", "data"}),
    )
    if "message" not in spec:
        raise ActionError("log: 'message' is required")
    message = spec["message"]
    text = message if isinstance(message, str) else orjson.dumps(message).decode()
    level = _LEVELS.get(str(spec.get("level", "info")).lower())
    if level is None:
        raise ActionError(f"log: 'level' must be one of {', '.join(_LEVELS)}")
    extra = {"run_id": ctx.run_id, "step": ctx.step_id, "workflow": ctx.workflow}
    if spec.get("data") is not None:
        extra["data"] = redacted_value(spec["data"])
    ctx.log.log(level, "%s", redacted(text), extra=extra)
    return text


def _options(value: Any, action: str, allowed: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ActionError(f"{action}: input must be an object, got {type(value).__name__}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ActionError(
            f"{action}: unknown option(s) {', '.join(map(repr, unknown))} "
            f"(known: {', '.join(sorted(allowed))})"
        )
    return value
