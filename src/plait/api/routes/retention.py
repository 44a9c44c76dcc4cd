"""``/~{org}/retention``: how long the organization and each of its workflows keep ended runs;
``POST /~{org}/runs/purge``: delete ended runs older than a duration now (``dryRun``: count them).

Reading needs the viewer role; changing a policy and purging need admin (both are audited). A
purge over the API archives to the server's ``archive`` setting only: a client never names a
directory of the server. One purge request deletes at most ``PURGE_BATCHES`` batches of runs
(10,000): ``more`` true says runs are left, send it again. An archive directory that cannot be
written answers 503 (nothing deleted). See docs/retention.md.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response
from pydantic import Field

from plait.api.auth import Admin, EngineDep, Viewer
from plait.api.models import Strict
from plait.api.problems import PROBLEM_RESPONSES, WITH_BODY
from plait.api.render import Json, no_content
from plait.resources.retention import Purge, Retention
from plait.service.retention import PURGE_BATCHES

router = APIRouter(tags=["retention"], responses=PROBLEM_RESPONSES)


class LimitsBody(Strict):
    """How long, and how many, ended runs are kept (null: as the level above says)."""

    maxAgeDays: float | None = Field(None, ge=0, description="0: keep them forever.")
    maxRuns: int | None = Field(None, ge=0, description="The newest this many; 0: no limit.")


class PolicyBody(LimitsBody):
    """A retention policy (docs/retention.md)."""

    statuses: dict[str, LimitsBody] = Field(
        default_factory=dict,
        description="Limits of runs that ended so: succeeded, partial, failed, cancelled.",
    )


class PurgeBody(Strict):
    """Which ended runs a purge deletes."""

    olderThan: str | float = Field(
        description="Runs that ended longer ago than this go: a duration such as ``30d``, "
        "``12h``, ``90s``, ``2w``, or seconds."
    )
    workflow: str | None = Field(None, description="Only this workflow's runs (by name).")
    statuses: list[str] = Field(
        default_factory=list,
        description="Only runs that ended so: succeeded (partial included), partial, failed, "
        "cancelled; empty: all.",
    )
    dryRun: bool = Field(False, description="Count the runs that would go; delete nothing.")


@router.get("/~{org}/retention", response_model=Retention, summary="The retention policies")
async def get_retention(caller: Viewer, engine: EngineDep) -> Json:
    return Json((await engine.retention.show(caller.org)).wire())


@router.put(
    "/~{org}/retention", response_model=Retention, responses=WITH_BODY,
    summary="Set the organization's retention policy",
)  # fmt: skip
async def put_retention(caller: Admin, engine: EngineDep, body: PolicyBody) -> Json:
    return Json((await engine.retention.set(caller.org, body.model_dump())).wire())


@router.delete(
    "/~{org}/retention", status_code=204,
    summary="Remove the organization's policy (the default applies)",
)  # fmt: skip
async def delete_retention(caller: Admin, engine: EngineDep) -> Response:
    await engine.retention.clear(caller.org)
    return no_content()


@router.put(
    "/~{org}/retention/workflows/{name}", response_model=Retention, responses=WITH_BODY,
    summary="Set a workflow's retention policy",
)  # fmt: skip
async def put_workflow_retention(
    caller: Admin, engine: EngineDep, name: str, body: PolicyBody
) -> Json:
    done = await engine.retention.set(caller.org, body.model_dump(), workflow=name)
    return Json(done.wire())


@router.delete(
    "/~{org}/retention/workflows/{name}", status_code=204,
    summary="Remove a workflow's policy (the organization's applies)",
)  # fmt: skip
async def delete_workflow_retention(caller: Admin, engine: EngineDep, name: str) -> Response:
    await engine.retention.clear(caller.org, workflow=name)
    return no_content()


@router.post(
    "/~{org}/runs/purge", response_model=Purge, responses=WITH_BODY,
    summary="Delete ended runs older than a duration (dryRun: count them)",
)  # fmt: skip
async def purge_runs(caller: Admin, engine: EngineDep, body: Annotated[PurgeBody, Body()]) -> Json:
    done = await engine.retention.purge(
        caller.org, body.olderThan, workflow=body.workflow, statuses=body.statuses,
        dry_run=body.dryRun, max_batches=PURGE_BATCHES,
    )  # fmt: skip
    return Json(done.wire())
