"""``/~{org}/workflows/{workflow}/instances``: the instances of a state machine, and sending an
event to one of them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import Field

from plait.api.auth import EngineDep, Runner, Viewer
from plait.api.models import MAX_LIMIT, Strict
from plait.api.problems import CONFLICTS, PROBLEM_RESPONSES
from plait.api.render import Json
from plait.resources.machines import MachineInstance, MachineInstancePage, SentEvent

router = APIRouter(
    prefix="/~{org}/workflows/{workflow}/instances", tags=["state machines"],
    responses=PROBLEM_RESPONSES,
)  # fmt: skip

Key = Annotated[str, Path(min_length=1, max_length=500, description="The correlation key.")]


class EventIn(Strict):
    type: str = Field(min_length=1, max_length=200, description="An event type or event name.")
    data: Any = None
    id: str | None = Field(
        None, min_length=1, max_length=200, description="An event id reaches an instance once."
    )


@router.get(
    "", response_model=MachineInstancePage,
    summary="List a state machine's instances, oldest first",
)  # fmt: skip
async def list_instances(
    caller: Viewer, engine: EngineDep, workflow: str,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    cursor: Annotated[str | None, Query(description="A previous page's nextCursor.")] = None,
) -> Json:  # fmt: skip
    page = await engine.machines.find(caller.org, workflow, limit=limit, cursor=cursor)
    return Json(page.wire())


@router.get(
    "/{key}", response_model=MachineInstance,
    summary="Get an instance: its current state, context, transition history and rejected events",
)  # fmt: skip
async def get_instance(caller: Viewer, engine: EngineDep, workflow: str, key: Key) -> Json:
    return Json((await engine.machines.get(caller.org, workflow, key)).wire())


@router.post(
    "/{key}/events", response_model=SentEvent, status_code=202, responses=CONFLICTS,
    summary="Send an event to one instance (created if the event can create it)",
    description="404 when no instance has the key and the event cannot create one; 409 when "
    "the instance has ended or the workflow is not Activated. The event is taken, or rejected "
    "with its reason (see the instance's `rejected`), when the instance's run processes it.",
)  # fmt: skip
async def send_event(
    caller: Runner, engine: EngineDep, workflow: str, key: Key, body: EventIn
) -> Json:
    sent = await engine.machines.send(caller.org, workflow, key, body.type, body.data, id=body.id)
    return Json(sent.wire(), 202)
