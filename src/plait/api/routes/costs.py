"""``/~{org}/costs``: what the organization's runs cost by their workflows' pricing, per
workflow and month (``period``: a month, a range of months or a year; default this month),
in exact decimals (docs/costs.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field

from plait.api.auth import EngineDep, Viewer
from plait.api.models import Strict
from plait.api.problems import PROBLEM_RESPONSES
from plait.api.render import Json
from plait.resources.costs import CostSummary

router = APIRouter(prefix="/~{org}/costs", tags=["costs"], responses=PROBLEM_RESPONSES)


class CostQuery(Strict):
    period: str | None = Field(
        None, max_length=20,
        description="YYYY-MM (a month), YYYY-MM..YYYY-MM (a range, both included) or YYYY "
        "(a year), in UTC; default: the current month.",
    )  # fmt: skip
    workflow: str | None = Field(
        None, min_length=1, max_length=200, description="One workflow's name (default: all)."
    )


@router.get("", response_model=CostSummary, summary="Costs per workflow and month")
async def get_costs(
    caller: Viewer, engine: EngineDep, query: Annotated[CostQuery, Query()]
) -> Json:
    summary = await engine.costs.summary(caller.org, period=query.period,
                                         workflow=query.workflow)  # fmt: skip
    return Json(summary.wire())
