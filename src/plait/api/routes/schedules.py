"""``/~{org}/schedules``: cron schedules that start runs of a workflow."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from plait.api.auth import Editor, EngineDep, Viewer
from plait.api.models import ScheduleBody, ScheduleQuery
from plait.api.problems import PROBLEM_RESPONSES, WITH_BODY
from plait.api.render import Json, no_content
from plait.resources.schedules import Schedule, SchedulePage

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


@router.delete("/{schedule_id}", status_code=204, summary="Delete a schedule")
async def delete_schedule(caller: Editor, engine: EngineDep, schedule_id: str) -> Response:
    await engine.schedules.delete(caller.org, schedule_id)
    return no_content()
