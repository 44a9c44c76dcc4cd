"""The event stream of the organization (``engine.overview.events``, as ``GET
/~{org}/overview/events``): newest first, a page at a time, filterable by type (``Deal.won``)
or family (``Deal.*``), each event with its data and the runs it started and woke; the list
refreshes when the organization's stream sends an event."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from starlette.requests import Request
from starlette.responses import Response

from plait.console.render import page
from plait.console.web import Engined, Signed, console_router

router = console_router()
PAGE = 50
"""Events a page shows."""


@router.get("/events")
async def events(
    request: Request, session: Signed, engine: Engined,
    type: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> Response:  # fmt: skip
    shown = (type or "").strip() or None
    found = await engine.overview.events(session.org, type=shown, limit=PAGE, cursor=cursor)
    return page(request, "events.html", session, section="events", events=found.items,
                next_cursor=found.next_cursor, type=shown or "", first=cursor is None)  # fmt: skip
