"""``/~{org}/audit``: the organization's audit trail (admin only), newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field

from plait.api.auth import Admin, EngineDep
from plait.api.models import MAX_LIMIT, Strict
from plait.api.problems import PROBLEM_RESPONSES, ApiProblem
from plait.api.render import Json
from plait.resources.audit import AuditPage
from plait.service.audit import AuditQueryInvalid

router = APIRouter(prefix="/~{org}/audit", tags=["audit"], responses=PROBLEM_RESPONSES)


class AuditQuery(Strict):
    resource: str | None = Field(
        None, min_length=1, max_length=500,
        description="Only entries of this resource id (a run's id: every entry about the run).",
    )  # fmt: skip
    type: str | None = Field(
        None, min_length=1, max_length=200,
        description="Only entries about this resource type (schedule, key, webhook, ...).",
    )  # fmt: skip
    actor: str | None = Field(
        None, min_length=1, max_length=500,
        description="Only entries by this person, API key id, or local name.",
    )  # fmt: skip
    verb: str | None = Field(None, min_length=1, max_length=500,
                             description="Only this verb (activate, cancel, ...).")  # fmt: skip
    since: str | None = Field(None, description="At or after this time (ISO 8601).")
    until: str | None = Field(None, description="Before this time (ISO 8601).")
    limit: int = Field(100, ge=1, le=MAX_LIMIT)
    cursor: str | None = None


@router.get("", response_model=AuditPage, summary="List the audit trail, newest first")
async def list_audit(
    caller: Admin, engine: EngineDep, query: Annotated[AuditQuery, Query()]
) -> Json:
    try:
        page = await engine.audit.list(
            caller.org, resource=query.resource, actor=query.actor, verb=query.verb,
            since=query.since, until=query.until, limit=query.limit, cursor=query.cursor,
            type=query.type,
        )  # fmt: skip
    except AuditQueryInvalid as exc:
        raise ApiProblem(422, f"The audit query is invalid: {exc}", kind="validation-error",
                         errors=[{"path": f"$.query.{exc.parameter}",
                                  "message": exc.reason}]) from exc  # fmt: skip
    return Json(page.wire())
