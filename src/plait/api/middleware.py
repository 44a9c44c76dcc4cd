"""Pure ASGI middleware: refusing text plait does not store, the request body limit, and the
last line of defence that turns any unexpected exception into a 500 problem (and counts
responses for ``/metrics``)."""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Sequence

from starlette.datastructures import Headers, QueryParams
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plait import logfields, text, tracing
from plait.api.problems import problem
from plait.errors import InvalidText

log = logging.getLogger(__name__)


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once the body outgrows the limit; answered as a 413 problem."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _too_large(limit))


def _too_large(limit: int) -> str:
    return (
        f"The request body is larger than {limit:,} bytes, the limit (setting "
        "max_request_bytes, environment variable PLAIT_MAX_REQUEST_BYTES)."
    )


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413, without reading them first.

    A declared ``Content-Length`` over the limit is refused before the app runs. Otherwise the
    bytes are counted as the app receives them, and the chunk that crosses the limit raises
    :class:`BodyTooLarge` (an ``HTTPException``, so the app's handlers answer it). Should the app
    swallow that and answer something else, the answer is replaced by the 413.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        exceeded = started = False

        async def counted() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                if exceeded and message["status"] != 413:
                    return  # the app answered despite the overflow: the 413 replaces it
                started = True
            elif not started:
                return
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not exceeded or started:
                raise
        if exceeded and not started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        await problem(413, _too_large(self.max_bytes), headers={"Connection": "close"})(
            scope, receive, send
        )


class Guard:
    """Answer any exception that escaped the app with a generic 500 problem (the traceback goes
    to the log), and count responses by status for ``/metrics``."""

    def __init__(self, app: ASGIApp, counts: Counter[tuple[str, int]]) -> None:
        self.app = app
        self.counts = counts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:
            log.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            if status:
                raise  # the response has begun: the server can only drop the connection
            status = 500
            detail = "The server failed to handle the request; the error is logged."
            await problem(500, detail)(scope, receive, send)
        finally:
            self.counts[(str(scope.get("method", "")), status)] += 1


class Traced:
    """The SERVER span of each request while tracing is on (``plait.tracing``): a child of the
    request's ``traceparent``, current while the app handles it (so runs and events it starts
    continue its trace), named by its route, its trace id bound to the JSON logs' fields. While
    tracing is off, a pass-through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        traced = tracing.ACTIVE
        if traced is None or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        span = traced.server(scope)
        fields = logfields.bind(trace_id=span.trace_id)
        status = 0

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            logfields.unbind(fields)
            traced.served(span, scope, status)


class TextGuard:
    """Refuse text plait does not store (NUL, lone surrogates: see ``plait.text``) wherever it
    arrives in a request, before any handler sees it, so that no backend ever meets it and both
    answer alike: a path or query parameter or a header answers 400, a JSON body 422, each a
    problem whose ``errors[0].path`` names the string (``$.query.workflow``, ``$.path.run_id``,
    ``$.headers["x-request-id"]``, ``$.body.data.note``).

    Bodies are read only when they are JSON (or untyped), and walked only when their bytes could
    hold such text at all (a ``\\u`` escape, a NUL byte or a surrogate's UTF-8 lead byte).
    """

    def __init__(self, app: ASGIApp, routes: Sequence[re.Pattern[str]]) -> None:
        self.app = app
        self.routes = routes  # each route's path pattern, to name a path parameter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found = self._in_path(scope["path"]) or _in_query(scope) or _in_headers(scope)
        if found is not None:
            await _refuse(400, *found)(scope, receive, send)
            return
        if _json_body(scope):
            body, receive = await _buffered(receive)
            found = _in_body(body)
            if found is not None:
                await _refuse(422, *found)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _in_path(self, path: str) -> tuple[str, str] | None:
        reason = text.flaw(path)
        if reason is None:
            return None
        for pattern in self.routes:
            matched = pattern.match(path)
            if matched is None:
                continue
            for name, value in matched.groupdict().items():
                reason_here = text.flaw(value)
                if reason_here is not None:
                    return text.join("$.path", name), reason_here
        return "$.path", reason


def _in_query(scope: Scope) -> tuple[str, str] | None:
    if not scope.get("query_string"):
        return None
    for name, value in QueryParams(scope["query_string"]).multi_items():
        reason = text.flaw(name)
        if reason is not None:
            return "$.query", f"has a parameter name that {reason}"
        reason = text.flaw(value)
        if reason is not None:
            return text.join("$.query", name), reason
    return None


def _in_headers(scope: Scope) -> tuple[str, str] | None:
    for name, value in scope.get("headers", ()):
        if b"\x00" in name:
            return "$.headers", "has a header name that contains a NUL character (U+0000)"
        if b"\x00" in value:
            where = text.join("$.headers", name.decode("latin-1"))
            return where, text.flaw(value.decode("latin-1")) or "contains a NUL character"
    return None


def _json_body(scope: Scope) -> bool:
    """Whether the app would parse the body as JSON (or could: no type given)."""
    kind = Headers(scope=scope).get("content-type")
    if kind is None:
        return True
    media = kind.partition(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


_SUSPECT = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})|\x00|\xed[\xa0-\xbf]")
_PAIR = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}")


def _suspicious(body: bytes) -> bool:
    """Whether ``body`` may hold NUL or a lone surrogate: the escape ``\\u0000``, a surrogate
    escape that is not part of a high-low pair (an emoji escaped as a pair is fine), a raw NUL,
    or a surrogate encoded as UTF-8. Ordinary bodies (non-ASCII text included) are never parsed
    here: a memchr; where there are escapes, two regex passes in C."""
    if b"\\u" not in body and b"\x00" not in body and b"\xed" not in body:
        return False
    return _SUSPECT.search(_PAIR.sub(b"", body)) is not None


def _in_body(body: bytes) -> tuple[str, str] | None:
    if not _suspicious(body):
        return None
    try:
        parsed = json.loads(body)  # as FastAPI parses it (lone surrogates pass, as escapes)
    except (ValueError, RecursionError):
        return None  # not JSON: the route answers that
    return text.find(parsed, "$.body")


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body, and a ``receive`` that gives it again, then defers to the original."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"", _replaying([message], receive)
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    return body, _replaying([{"type": "http.request", "body": body, "more_body": False}], receive)


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return replay


def _refuse(status: int, path: str, reason: str) -> ASGIApp:
    detail = (
        f"The text at {path} {reason}; plait stores any Unicode text but NUL and lone surrogates."
    )
    title = (InvalidText.__doc__ or "").strip().splitlines()[0]
    return problem(status, detail, kind="invalid-text", title=title,
                   errors=[{"path": path, "message": reason}])  # fmt: skip
