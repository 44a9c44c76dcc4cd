"""``/~{org}/schedules``: cron schedules that start runs of a workflow."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from plait.api.auth import Editor, EngineDep, Viewer
from plait.api.models import ScheduleBody, ScheduleQuery
from plait.api.problems import PROBLEM_RESPONSES, WITH_BODY
from plait.api.render import Json, no_content
from plait.resources.schedules import Schedule, SchedulePage, ScheduleTicks
from plait.service.schedules import MAX_TICKS_SHOWN

router = APIRouter(prefix="/~{org}/schedules", tags=["schedules"], responses=PROBLEM_RESPONSES)


@router.get("", response_model=SchedulePage, summary="List schedules, oldest first")
async def list_schedules(
    caller: Viewer, engine: EngineDep, query: Annotated[ScheduleQuery, Query()]
) -> Json:
    page = await engine.schedules.find(caller.org, query.workflow, limit=query.limit,
                                       cursor=query.cursor)  # fmt: skip
    return Json(page.wire())


@router.post(
    "",
    response_model=Schedule,
    status_code=201,
    summary="Create a schedule",
    responses=WITH_BODY,
)
async def create_schedule(caller: Editor, engine: EngineDep, body: ScheduleBody) -> Json:
    schedule = await engine.schedules.create(caller.org, body.model_dump(exclude_unset=True))
    return Json(schedule.wire(), 201)


@router.get(
    "/{schedule_id}/ticks", response_model=ScheduleTicks,
    summary="A schedule's last fired ticks (with their runs) and its next ticks",
)  # fmt: skip
async def schedule_ticks(
    caller: Viewer, engine: EngineDep, schedule_id: str,
    fired: Annotated[int, Query(ge=0, le=MAX_TICKS_SHOWN, description="Fired ticks shown.")] = 5,
    upcoming: Annotated[int, Query(ge=0, le=MAX_TICKS_SHOWN,
                                   description="Next ticks shown.")] = 5,
) -> Json:  # fmt: skip
    ticks = await engine.schedules.ticks(caller.org, schedule_id, fired=fired, upcoming=upcoming)
    return Json(ticks.wire())


@router.delete("/{schedule_id}", status_code=204, summary="Delete a schedule")
async def delete_schedule(caller: Editor, engine: EngineDep, schedule_id: str) -> Response:
    await engine.schedules.delete(caller.org, schedule_id)
    return no_content()
