"""Live streams as Server-Sent Events: ``GET /~{org}/runs/{id}/stream`` (one run's status
transitions, step changes and progress, ending with its terminal transition) and
``GET /~{org}/stream?types=...`` (an organization's run transitions and events).

Each message has an ``id`` (the cursor to resume after it), an ``event`` (``run``, ``step``,
``progress``, ``event``) and JSON ``data``. A client resumes with the ``Last-Event-ID`` header
(an ``EventSource`` sends it when it reconnects) or ``?lastEventId=``. Silent streams send a
comment line every ``stream_heartbeat_seconds``; a stream the server ends as it stops, or
because its API key was revoked (checked again on each heartbeat, and as often while messages
flow), sends ``event: close`` (with the reason) first, and a run's stream sends
``event: end`` after the run's last transition. A run that has ended with nothing after the
cursor answers 204 (an ``EventSource`` then stops reconnecting).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
import orjson
from fastapi import APIRouter, Header, Query
from pydantic import Field
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from plait.api.auth import EngineDep, Viewer
from plait.api.models import Strict
from plait.api.problems import PROBLEM_RESPONSES, described
from plait.service.feed import Closed
from plait.service.streams import Stream

router = APIRouter(tags=["streams"], responses={**PROBLEM_RESPONSES, **described(429)})

LastEventId = Annotated[
    str | None,
    Header(alias="Last-Event-ID", max_length=40,
           description="The id of the last message received: the stream resumes after it."),
]  # fmt: skip
_EVENTS: dict[int | str, dict[str, Any]] = {
    200: {"description": "A stream of Server-Sent Events.",
          "content": {"text/event-stream": {"schema": {"type": "string"}}}},
}  # fmt: skip
RETRY_MS = 1000
"""How long an ``EventSource`` waits before it reconnects (the ``retry`` field)."""


class RunStreamQuery(Strict):
    last_event_id: str | None = Field(
        None, alias="lastEventId", max_length=40,
        description="As the Last-Event-ID header, for clients that cannot set headers.",
    )  # fmt: skip


class OrgStreamQuery(RunStreamQuery):
    types: str | None = Field(
        None, max_length=4000,
        description="Comma-separated: ``run`` (run transitions), ``event`` (every event), or "
        "event types, ``*`` matching any text (``Deal.*``). Default: runs and every event.",
    )  # fmt: skip


class EventStream(Response):
    """A ``text/event-stream`` response of ``stream``, which ends when it ends, the server
    stops, or the client goes (it is watched for, so a silent stream frees its place at
    once)."""

    media_type = "text/event-stream"

    def __init__(self, stream: Stream, *, ends: bool) -> None:
        # No body: Response.__init__ would declare Content-Length: 0.
        self.status_code = 200
        self.background = None
        self.init_headers({"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self.stream = stream
        self.ends = ends

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": 200,
                        "headers": self.raw_headers})  # fmt: skip
            async with anyio.create_task_group() as group:

                async def watch() -> None:  # read the client's messages until it goes
                    message = await receive()
                    while message["type"] != "http.disconnect":
                        message = await receive()
                    group.cancel_scope.cancel()

                group.start_soon(watch)
                with contextlib.suppress(OSError):  # the client went
                    async for chunk in self._chunks():
                        await send({"type": "http.response.body", "body": chunk.encode(),
                                    "more_body": True})  # fmt: skip
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                group.cancel_scope.cancel()
        finally:
            await self.stream.aclose()

    async def _chunks(self) -> AsyncIterator[str]:
        yield f"retry: {RETRY_MS}\n: plait stream\n\n"
        last = None
        try:
            async for message in self.stream:
                if message is None:
                    yield ": keep-alive\n\n"
                else:
                    last = message.id
                    yield message.sse()
        except Closed as closed:
            reason = closed.reason or ("The server is stopping: reconnect with the "
                                       "Last-Event-ID to resume.")  # fmt: skip
            yield _control("close", {"reason": reason, "lastEventId": last})
            return
        if self.ends:
            yield _control("end", {"reason": "The run ended.", "lastEventId": last})


def _control(event: str, data: dict[str, object]) -> str:
    return f"event: {event}\ndata: {orjson.dumps(data).decode()}\n\n"


@router.get(
    "/~{org}/runs/{run_id}/stream", response_class=EventStream, status_code=200,
    responses={**_EVENTS, 204: {"description": "It ended."}},
    summary="Stream a run's status transitions, step changes and progress (SSE)",
)  # fmt: skip
async def stream_run(
    caller: Viewer, engine: EngineDep, run_id: str,
    query: Annotated[RunStreamQuery, Query()], last_event_id: LastEventId = None,
) -> Response:  # fmt: skip
    after, path = _cursor(last_event_id, query.last_event_id)
    stream = await engine.streams.open_run(caller.org, run_id, after=after,
                                           key_id=caller.key_id, path=path)  # fmt: skip
    if stream is None:
        return Response(status_code=204)
    return EventStream(stream, ends=True)


@router.get(
    "/~{org}/stream", response_class=EventStream, status_code=200, responses=_EVENTS,
    summary="Stream an organization's run transitions and events (SSE)",
)  # fmt: skip
async def stream_org(
    caller: Viewer, engine: EngineDep, query: Annotated[OrgStreamQuery, Query()],
    last_event_id: LastEventId = None,
) -> Response:  # fmt: skip
    after, path = _cursor(last_event_id, query.last_event_id)
    stream = await engine.streams.open_organization(
        caller.org, types=query.types, after=after, key_id=caller.key_id, path=path
    )
    return EventStream(stream, ends=False)


def _cursor(header: str | None, query: str | None) -> tuple[str | None, str]:
    """The cursor sent (the header wins) and the JSON path it came by."""
    if header:
        return header, "$.header.Last-Event-ID"
    return query, "$.query.lastEventId"
