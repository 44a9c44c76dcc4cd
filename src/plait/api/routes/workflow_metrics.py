"""``/~{org}/workflows/{id}/metrics`` and ``/stats``: a workflow's business metrics and how its
runs are doing over a window (``?window=24h``; ``30m``, ``7d``, ...)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from plait.api.auth import EngineDep, Viewer
from plait.api.problems import PROBLEM_RESPONSES
from plait.api.render import Json
from plait.resources.business_metrics import WorkflowMetrics, WorkflowStats

router = APIRouter(
    prefix="/~{org}/workflows/{workflow_id}", tags=["workflows"], responses=PROBLEM_RESPONSES
)

WindowQuery = Annotated[
    str,
    Query(description="Ending now: a whole number of minutes, hours or days (30m, 24h, 7d), at "
          "most stats_max_window_days.", max_length=16),
]  # fmt: skip


@router.get(
    "/metrics", response_model=WorkflowMetrics,
    summary="Business metrics over a window: count, sum, mean, p50, p95 of each",
)  # fmt: skip
async def workflow_metrics(
    caller: Viewer, engine: EngineDep, workflow_id: str, window: WindowQuery = "24h",
    name: Annotated[str | None, Query(description="Only this metric.", max_length=200)] = None,
    by_labels: Annotated[bool, Query(alias="byLabels",
                                     description="Each label set apart.")] = False,
) -> Json:  # fmt: skip
    found = await engine.workflows.metrics(caller.org, workflow_id, window=window, name=name,
                                           by_labels=by_labels)  # fmt: skip
    return Json(found.wire())


@router.get(
    "/stats", response_model=WorkflowStats,
    summary="How the workflow is doing: runs by outcome, success rate, durations, failures",
)  # fmt: skip
async def workflow_stats(
    caller: Viewer, engine: EngineDep, workflow_id: str, window: WindowQuery = "24h"
) -> Json:
    return Json((await engine.workflows.stats(caller.org, workflow_id, window=window)).wire())
