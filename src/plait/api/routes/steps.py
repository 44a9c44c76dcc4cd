"""``/~{org}/runs/{id}/steps``: a run's steps a window at a time, and one step, for runs with
too many steps to read in one document (``GET /~{org}/runs/{id}`` holds them all)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from plait.api.auth import EngineDep, Viewer
from plait.api.models import MAX_LIMIT
from plait.api.problems import PROBLEM_RESPONSES
from plait.api.render import Json
from plait.resources.runs import Step
from plait.resources.steps import StepPage
from plait.service.steps import LAST_POSITION, WINDOW

router = APIRouter(prefix="/~{org}/runs", tags=["runs"], responses=PROBLEM_RESPONSES)


@router.get(
    "/{run_id}/steps", response_model=StepPage,
    summary="A window of a run's steps in call order, with their outputs and errors",
)  # fmt: skip
async def list_steps(
    caller: Viewer, engine: EngineDep, run_id: str,
    start: Annotated[int, Query(
        ge=0, le=LAST_POSITION,
        description="The position to start from (0: the first step); a page's nextStart or "
        "previousStart.",
    )] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = WINDOW,
) -> Json:  # fmt: skip
    window = await engine.steps.window(caller.org, run_id, start=start, limit=limit)
    return Json(window.wire())


@router.get(
    "/{run_id}/steps/{key:path}", response_model=Step,
    summary="One step of a run (by its key) with its output and error",
)  # fmt: skip
async def get_step(caller: Viewer, engine: EngineDep, run_id: str, key: str) -> Json:
    return Json((await engine.steps.get(caller.org, run_id, key)).wire())
