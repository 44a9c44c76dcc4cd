"""Pure ASGI middleware: the request body limit, and the last line of defence that turns any
unexpected exception into a 500 problem (and counts responses for ``/metrics``)."""

from __future__ import annotations

import logging
from collections import Counter

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plait.api.problems import problem

log = logging.getLogger(__name__)


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once the body outgrows the limit; answered as a 413 problem."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes.")


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
        detail = f"The request body is larger than {self.max_bytes} bytes."
        await problem(413, detail, headers={"Connection": "close"})(scope, receive, send)


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
