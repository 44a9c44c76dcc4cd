"""``/~{org}/runs``: runs of the organization, newest first, filtered and searched; operations
on one (cancel, resume, fork, retry) and on many at once (``/bulk``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query
from pydantic import Field, model_validator

from plait.api.auth import Caller, EngineDep, Runner, Viewer
from plait.api.models import MAX_LIMIT, IdempotencyKey, Strict
from plait.api.problems import CONFLICTS, PROBLEM_RESPONSES, ApiProblem
from plait.api.render import Json
from plait.resources.bulk import BulkResult
from plait.resources.runs import Run, RunPage, Signal
from plait.service.business_metrics import includes
from plait.service.keys import allows
from plait.service.run_filters import RunFilters

router = APIRouter(prefix="/~{org}/runs", tags=["runs"], responses=PROBLEM_RESPONSES)

RunStatus = Literal["pending", "running", "waiting", "succeeded", "failed", "cancelled"]
RunOutcome = Literal["succeeded", "partial", "failed", "cancelled"]
RunTrigger = Literal["api", "manual", "event", "schedule", "webhook", "child", "retry", "fork"]


class RunFilterFields(Strict):
    """The filters of a runs listing, and of a bulk operation on all the runs matching them."""

    workflow: str | None = Field(
        None, min_length=1, max_length=500, description="Only runs of this workflow (name or $id)."
    )
    status: RunStatus | None = None
    outcome: RunOutcome | None = Field(
        None, description="Only runs that ended so (``partial``: succeeded past failed steps)."
    )
    trigger: RunTrigger | None = Field(None, description="Only runs started so.")
    created_after: datetime | None = Field(
        None, alias="createdAfter", description="Created at or after (ISO 8601; UTC if no zone)."
    )
    created_before: datetime | None = Field(
        None, alias="createdBefore", description="Created before (ISO 8601; UTC if no zone)."
    )
    search: str | None = Field(
        None, min_length=1, max_length=1000,
        description="A run id or its prefix, an event id (the runs it started or woke), or "
        "``input.path=value`` (runs whose input has that value there; JSON, else text). An "
        "outcome, trigger or input filter is checked on at most ``run_search_scan`` runs per "
        "page: a page may be short, or empty, with a ``nextCursor`` to read on.",
    )  # fmt: skip

    def filters(self) -> RunFilters:
        return RunFilters(self.workflow, self.status, self.outcome, self.trigger,
                          self.created_after, self.created_before, self.search)  # fmt: skip


class RunQuery(RunFilterFields):
    limit: int = Field(100, ge=1, le=MAX_LIMIT)
    cursor: str | None = None


@router.get("", response_model=RunPage, summary="List runs, newest first, filtered")
async def list_runs(caller: Viewer, engine: EngineDep, query: Annotated[RunQuery, Query()]) -> Json:
    page = await engine.runs.find_where(caller.org, query.filters(), limit=query.limit,
                                        cursor=query.cursor)  # fmt: skip
    return Json(page.wire())


class BulkBody(Strict):
    action: Literal["cancel", "retry", "resume"]
    ids: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        None, min_length=1, description="The runs to act on (at most ``bulk_max_runs``)."
    )
    filter: RunFilterFields | None = Field(
        None, description="Act on every run matching these filters instead (at most "
        "``bulk_max_runs`` may match: more is a 422 and nothing is done).",
    )  # fmt: skip
    reason: str | None = Field(None, max_length=1000, description="Why; kept in each history.")

    @model_validator(mode="after")
    def _one_target(self) -> BulkBody:
        if (self.ids is None) == (self.filter is None):
            raise ValueError("give either ids or filter")
        return self


@router.post(
    "/bulk", response_model=BulkResult,
    summary="Cancel, retry or resume many runs: the ids given, or all matching a filter",
)  # fmt: skip
async def bulk_runs(caller: Runner, engine: EngineDep, body: BulkBody) -> Json:
    where = body.filter.filters() if body.filter is not None else None
    done = await engine.runs.bulk(caller.org, body.action, ids=body.ids, where=where,
                                  by=_actor(caller), reason=body.reason)  # fmt: skip
    return Json(done.wire())


@router.get("/{run_id}", response_model=Run, summary="Get a run with its steps")
async def get_run(
    caller: Viewer, engine: EngineDep, run_id: str,
    include: Annotated[str | None, Query(
        description="Comma-separated parts to add: metrics (its business metric values), "
        "audit (its audit entries).", max_length=100,
    )] = None,
) -> Json:  # fmt: skip
    parts = includes(include)
    if "audit" in parts and not allows(caller.role, "admin"):
        raise ApiProblem(403, f"include=audit needs the admin role; the key is {caller.role}.")
    return Json((await engine.runs.get(caller.org, run_id, include=parts)).wire())


class CancelBody(Strict):
    reason: str | None = Field(None, max_length=1000, description="Why; kept in the history.")


class ResumeBody(CancelBody):
    newest: bool = Field(False, description="Run on the workflow's newest version.")


class ForkBody(ResumeBody):
    step: str | int = Field(
        description="The step to execute from: its key, or its 1-based number in the run."
    )


@router.post(
    "/{run_id}/cancel", response_model=Run, responses=CONFLICTS,
    summary="Cancel a run and its children",
)  # fmt: skip
async def cancel_run(
    caller: Runner, engine: EngineDep, run_id: str,
    body: Annotated[CancelBody | None, Body()] = None, idempotency_key: IdempotencyKey = None,
) -> Json:  # fmt: skip
    reason = body.reason if body else None
    run = await engine.runs.cancel(caller.org, run_id, reason=reason, by=_actor(caller),
                                   idempotency_key=idempotency_key)  # fmt: skip
    return Json(run.wire())


@router.post(
    "/{run_id}/resume", response_model=Run, responses=CONFLICTS,
    summary="Resume a failed run from its failed step",
)  # fmt: skip
async def resume_run(
    caller: Runner, engine: EngineDep, run_id: str,
    body: Annotated[ResumeBody | None, Body()] = None, idempotency_key: IdempotencyKey = None,
) -> Json:  # fmt: skip
    body = body or ResumeBody.model_validate({})
    run = await engine.runs.resume(caller.org, run_id, newest=body.newest, by=_actor(caller),
                                   reason=body.reason, idempotency_key=idempotency_key)  # fmt: skip
    return Json(run.wire(), 202)


@router.post(
    "/{run_id}/fork", response_model=Run, status_code=201,
    summary="Fork a run from a step into a new run that reuses the steps before it",
)  # fmt: skip
async def fork_run(
    caller: Runner, engine: EngineDep, run_id: str, body: ForkBody,
    idempotency_key: IdempotencyKey = None,
) -> Json:  # fmt: skip
    run = await engine.runs.fork(caller.org, run_id, body.step, newest=body.newest,
                                 by=_actor(caller), reason=body.reason,
                                 idempotency_key=idempotency_key)  # fmt: skip
    return Json(run.wire(), 201, headers={"Location": f"/~{caller.org}/runs/{run.id}"})


@router.post(
    "/{run_id}/retry", response_model=Run, status_code=201,
    summary="Retry a run from scratch with the same input, as a new run",
)  # fmt: skip
async def retry_run(
    caller: Runner, engine: EngineDep, run_id: str,
    body: Annotated[ResumeBody | None, Body()] = None, idempotency_key: IdempotencyKey = None,
) -> Json:  # fmt: skip
    body = body or ResumeBody.model_validate({})
    run = await engine.runs.retry(caller.org, run_id, newest=body.newest, by=_actor(caller),
                                  reason=body.reason, idempotency_key=idempotency_key)  # fmt: skip
    return Json(run.wire(), 201, headers={"Location": f"/~{caller.org}/runs/{run.id}"})


def _actor(caller: Caller) -> str:
    """Who did it, as the history records it: the API key."""
    return f"key:{caller.key_id}"


@router.post(
    "/{run_id}/signals/{name}", response_model=Signal, status_code=202, responses=CONFLICTS,
    summary="Send a signal to a run: the body (any JSON) is the payload its receive gets",
)  # fmt: skip
async def signal_run(
    caller: Runner, engine: EngineDep, run_id: str,
    name: Annotated[str, Path(min_length=1, max_length=200)],
    payload: Annotated[Any, Body()] = None, idempotency_key: IdempotencyKey = None,
) -> Json:  # fmt: skip
    sent = await engine.runs.signal(caller.org, run_id, name, payload,
                                    idempotency_key=idempotency_key)  # fmt: skip
    return Json(sent.wire(), 202)
