"""Live updates for the pages: the REST API's Server-Sent Event streams, authenticated by the
console session instead of a bearer key. A page element with ``data-live="/live/..."`` is
re-fetched when its stream speaks (``static/console.js``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header
from starlette.requests import Request
from starlette.responses import Response

from plait.api.routes.streams import EventStream
from plait.console.web import Engined, Signed, console_router

router = console_router()


@router.get("/live/runs/{run_id}")
async def run_stream(
    request: Request, session: Signed, engine: Engined, run_id: str,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=40)] = None,
) -> Response:  # fmt: skip
    """One run's transitions, step changes and progress; 204 once it has ended."""
    stream = await engine.streams.open_run(session.org, run_id, after=last_event_id,
                                           key_id=session.key_id,
                                           path="$.header.Last-Event-ID")  # fmt: skip
    if stream is None:
        return Response(status_code=204)
    return EventStream(stream, ends=True)


@router.get("/live/org")
async def org_stream(
    request: Request, session: Signed, engine: Engined, types: str | None = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=40)] = None,
) -> Response:  # fmt: skip
    """The organization's run transitions and events (``types`` as the REST stream's)."""
    stream = await engine.streams.open_organization(
        session.org, types=types, after=last_event_id, key_id=session.key_id,
        path="$.header.Last-Event-ID",
    )  # fmt: skip
    return EventStream(stream, ends=False)
