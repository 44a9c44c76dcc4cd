"""``/~{org}/runs``: runs of the organization, newest first; cancel one."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import Field

from plait.api.auth import EngineDep, Runner, Viewer
from plait.api.models import MAX_LIMIT, RunOut, RunPage, Strict
from plait.api.problems import PROBLEM_RESPONSES
from plait.api.render import Json

router = APIRouter(prefix="/~{org}/runs", tags=["runs"], responses=PROBLEM_RESPONSES)

RunStatus = Literal["pending", "running", "waiting", "succeeded", "failed", "cancelled"]


class RunQuery(Strict):
    workflow: str | None = Field(None, description="Only runs of this workflow (its name).")
    status: RunStatus | None = None
    limit: int = Field(100, ge=1, le=MAX_LIMIT)
    cursor: str | None = None


@router.get("", response_model=RunPage, summary="List runs, newest first")
async def list_runs(caller: Viewer, engine: EngineDep, query: Annotated[RunQuery, Query()]) -> Json:
    page = await engine.runs.find(caller.org, workflow=query.workflow, status=query.status,
                                  limit=query.limit, cursor=query.cursor)  # fmt: skip
    return Json(page.to_dict())


@router.get("/{run_id}", response_model=RunOut, summary="Get a run with its steps")
async def get_run(caller: Viewer, engine: EngineDep, run_id: str) -> Json:
    return Json(await engine.runs.get(caller.org, run_id))


@router.post("/{run_id}/cancel", response_model=RunOut, summary="Cancel a run")
async def cancel_run(caller: Runner, engine: EngineDep, run_id: str) -> Json:
    return Json(await engine.runs.cancel(caller.org, run_id))
