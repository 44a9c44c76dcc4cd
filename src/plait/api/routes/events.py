"""``/~{org}/events``: emit an event (it starts and resumes runs), list and get events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field

from plait.api.auth import EngineDep, Runner, Viewer
from plait.api.models import MAX_LIMIT, EventBody, IdempotencyKey, Strict
from plait.api.problems import CONFLICTS, PROBLEM_RESPONSES, WITH_BODY
from plait.api.render import Json
from plait.resources.events import EmittedEvent, Event, EventPage

router = APIRouter(prefix="/~{org}/events", tags=["events"], responses=PROBLEM_RESPONSES)


class EventQuery(Strict):
    type: str | None = Field(None, description="Only events of this type.")
    limit: int = Field(100, ge=1, le=MAX_LIMIT)
    cursor: str | None = None


@router.get("", response_model=EventPage, summary="List events, newest first")
async def list_events(
    caller: Viewer, engine: EngineDep, query: Annotated[EventQuery, Query()]
) -> Json:
    page = await engine.events.find(caller.org, type=query.type, limit=query.limit,
                                    cursor=query.cursor)  # fmt: skip
    return Json(page.wire())


@router.post(
    "", response_model=EmittedEvent, status_code=202, summary="Emit an event",
    responses={**WITH_BODY, **CONFLICTS},
)  # fmt: skip
async def emit_event(
    caller: Runner, engine: EngineDep, body: EventBody, idempotency_key: IdempotencyKey = None
) -> Json:
    event = await engine.events.emit(caller.org, body.type, body.data, id=body.id, source="api",
                                     idempotency_key=idempotency_key)  # fmt: skip
    return Json(event.wire(), 202)


@router.get("/{event_id}", response_model=Event, summary="Get an event")
async def get_event(caller: Viewer, engine: EngineDep, event_id: str) -> Json:
    return Json((await engine.events.get(caller.org, event_id)).wire())
