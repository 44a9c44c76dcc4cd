"""``/~{org}/workflows/{workflow}/instances``: the instances of a state machine, and sending an
event to one of them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import Field

from plait.api.auth import EngineDep, Runner, Viewer
from plait.api.models import MAX_LIMIT, Open, Strict
from plait.api.problems import CONFLICTS, PROBLEM_RESPONSES
from plait.api.render import Json

router = APIRouter(
    prefix="/~{org}/workflows/{workflow}/instances", tags=["state machines"],
    responses=PROBLEM_RESPONSES,
)  # fmt: skip

Key = Annotated[str, Path(min_length=1, max_length=500, description="The correlation key.")]


class InstanceOut(Open):
    workflow: str
    key: str
    runId: str
    status: str = Field(description="The status of the instance's run.")
    received: int = Field(description="How many events were delivered to the instance.")
    createdAt: str
    state: str | None = Field(None, description="The current state.")
    context: Any = None
    history: list[dict[str, Any]] = Field(
        default_factory=list, description="Transitions taken: from, to, event, type, eventId, at."
    )
    rejected: list[dict[str, Any]] = Field(
        default_factory=list, description="Events that changed nothing, with the reason."
    )


class EventIn(Strict):
    type: str = Field(min_length=1, max_length=200, description="An event type or event name.")
    data: Any = None
    id: str | None = Field(
        None, min_length=1, max_length=200, description="An event id reaches an instance once."
    )


class SentOut(Open):
    workflow: str
    key: str
    runId: str
    outcome: str = Field(description="created, delivered or duplicate.")
    event: dict[str, Any]


@router.get("", response_model=list[InstanceOut], summary="List a state machine's instances")
async def list_instances(
    caller: Viewer, engine: EngineDep, workflow: str,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> Json:  # fmt: skip
    return Json(await engine.machines.list(caller.org, workflow, limit=limit))


@router.get(
    "/{key}", response_model=InstanceOut,
    summary="Get an instance: its current state, context, transition history and rejected events",
)  # fmt: skip
async def get_instance(caller: Viewer, engine: EngineDep, workflow: str, key: Key) -> Json:
    return Json(await engine.machines.get(caller.org, workflow, key))


@router.post(
    "/{key}/events", response_model=SentOut, status_code=202, responses=CONFLICTS,
    summary="Send an event to one instance (created if the event can create it)",
    description="404 when no instance has the key and the event cannot create one; 409 when "
    "the instance has ended or the workflow is not Activated. The event is taken, or rejected "
    "with its reason (see the instance's `rejected`), when the instance's run processes it.",
)  # fmt: skip
async def send_event(
    caller: Runner, engine: EngineDep, workflow: str, key: Key, body: EventIn
) -> Json:
    sent = await engine.machines.send(caller.org, workflow, key, body.type, body.data, id=body.id)
    return Json(sent, 202)
