"""``/~{org}/overview``: how every workflow of the organization is doing now (runs that ended in
the last hour and day by outcome, success rates, p95 duration, runs live now, open and overdue
tasks, runs per minute and per hour); ``/~{org}/overview/events``: the event stream with the
runs each event started and woke, filterable by type (``Deal.won``) or family (``Deal.*``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field

from plait.api.auth import EngineDep, Viewer
from plait.api.models import MAX_LIMIT, Strict
from plait.api.problems import PROBLEM_RESPONSES
from plait.api.render import Json
from plait.resources.overview import EventEntryPage, Overview

router = APIRouter(prefix="/~{org}/overview", tags=["overview"], responses=PROBLEM_RESPONSES)


class EventEntryQuery(Strict):
    type: str | None = Field(
        None, max_length=200,
        description="One type (Deal.won), a family (Deal.*: every type starting with Deal.), "
        "or all (omitted).",
    )  # fmt: skip
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(None, description="A previous page's nextCursor.")


@router.get("", response_model=Overview, summary="How every workflow is doing now")
async def get_overview(caller: Viewer, engine: EngineDep) -> Json:
    return Json((await engine.overview.get(caller.org)).wire())


@router.get(
    "/events", response_model=EventEntryPage,
    summary="Events, newest first, with the runs each started and woke",
)  # fmt: skip
async def list_event_entries(
    caller: Viewer, engine: EngineDep, query: Annotated[EventEntryQuery, Query()]
) -> Json:
    page = await engine.overview.events(caller.org, type=query.type, limit=query.limit,
                                        cursor=query.cursor)  # fmt: skip
    return Json(page.wire())
