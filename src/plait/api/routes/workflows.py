"""``/~{org}/workflows``: the registry and the lifecycle verbs of stored workflows."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Body, Query, Response
from pydantic import Field

from plait.api.auth import Admin, Editor, EngineDep, Runner, Viewer
from plait.api.models import MAX_LIMIT, IdempotencyKey, Strict, TriggerBody, WorkflowBody
from plait.api.problems import CONFLICTS, PROBLEM_RESPONSES, WITH_BODY, ApiProblem
from plait.api.render import Json, no_content
from plait.resources.runs import Run
from plait.resources.workflows import (
    SavedWorkflow,
    StoredWorkflow,
    Validation,
    WorkflowPage,
    WorkflowRevision,
    WorkflowVersions,
)

router = APIRouter(prefix="/~{org}/workflows", tags=["workflows"], responses=PROBLEM_RESPONSES)

WorkflowStatus = Literal["Draft", "Activated", "Paused", "Triggered", "Archived"]


class WorkflowQuery(Strict):
    """Filters (equality on the brief's fields), sort order and page."""

    status: WorkflowStatus | None = None
    name: str | None = None
    description: str | None = None
    triggerEvent: str | None = None
    errorHandling: str | None = None
    timeout: float | None = None
    version: int | None = None
    runCount: int | None = None
    successCount: int | None = None
    failureCount: int | None = None
    lastRunAt: str | None = None
    where: str | None = Field(None, description='Any filter as a JSON object: {"field": value}.')
    search: str | None = Field(
        None, description="Only workflows whose name or description contains it (any case)."
    )
    sort: str | None = Field(None, description="A field; ``-field`` for descending.")
    limit: int = Field(100, ge=1, le=MAX_LIMIT)
    cursor: str | None = None

    def filters(self) -> dict[str, Any] | None:
        chosen = self.model_dump(
            exclude={"where", "search", "sort", "limit", "cursor"}, exclude_none=True
        )
        merged = {**_where(self.where), **chosen}
        return merged or None


def _where(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        message = f"not JSON: {exc}"
    else:
        if isinstance(value, dict):
            return value
        message = "expected a JSON object of field: value"
    detail = f"The query parameter 'where' is invalid: {message}."
    errors = [{"path": "$.query.where", "message": message}]
    raise ApiProblem(422, detail, kind="validation-error", errors=errors)


@router.get("", response_model=WorkflowPage, summary="List workflows")
async def list_workflows(
    caller: Viewer, engine: EngineDep, query: Annotated[WorkflowQuery, Query()]
) -> Json:
    page = await engine.workflows.find(
        caller.org,
        where=query.filters(),
        sort=query.sort,
        limit=query.limit,
        cursor=query.cursor,
        search=query.search,
    )
    return Json(page.wire())


@router.post(
    "",
    response_model=SavedWorkflow,
    status_code=201,
    summary="Create a workflow (Draft); the answer lists the validation warnings",
    responses={**WITH_BODY, **CONFLICTS},
)
async def create_workflow(caller: Editor, engine: EngineDep, body: WorkflowBody) -> Json:
    created = await engine.workflows.create(caller.org, _document(body))
    location = f"/~{caller.org}/workflows/{created.id}"
    return Json(created.wire(), 201, headers={"Location": location})


@router.post(
    "/validate",
    response_model=Validation,
    summary="Check a definition without storing it: its errors and warnings at their paths",
    responses=WITH_BODY,
)
async def validate_workflow(
    caller: Viewer,
    engine: EngineDep,
    body: WorkflowBody,
    workflow: Annotated[
        str | None, Query(description="Check the body as an update (a patch) of this workflow.")
    ] = None,
) -> Json:
    return Json((await engine.workflows.check(caller.org, _document(body), ref=workflow)).wire())


@router.get("/{workflow_id}", response_model=StoredWorkflow, summary="Get a workflow by id or name")
async def get_workflow(caller: Viewer, engine: EngineDep, workflow_id: str) -> Json:
    return Json((await engine.workflows.get(caller.org, workflow_id)).wire())


@router.get(
    "/{workflow_id}/versions",
    response_model=WorkflowVersions,
    summary="List the versions of a workflow, newest first",
)
async def list_versions(caller: Viewer, engine: EngineDep, workflow_id: str) -> Json:
    return Json((await engine.workflows.versions(caller.org, workflow_id)).wire())


@router.get(
    "/{workflow_id}/versions/{version}",
    response_model=WorkflowRevision,
    summary="Get one version of a workflow: its document and canonical definition",
)
async def get_version(caller: Viewer, engine: EngineDep, workflow_id: str, version: int) -> Json:
    return Json((await engine.workflows.version(caller.org, workflow_id, version)).wire())


@router.patch(
    "/{workflow_id}",
    response_model=SavedWorkflow,
    summary="Update (a new version); the answer lists the validation warnings",
    responses={**WITH_BODY, **CONFLICTS},
)
async def update_workflow(
    caller: Editor, engine: EngineDep, workflow_id: str, body: WorkflowBody
) -> Json:
    updated = await engine.workflows.update(caller.org, workflow_id, _document(body))
    return Json(updated.wire())


@router.delete("/{workflow_id}", status_code=204, summary="Delete a workflow", responses=CONFLICTS)
async def delete_workflow(caller: Admin, engine: EngineDep, workflow_id: str) -> Response:
    await engine.workflows.delete(caller.org, workflow_id)
    return no_content()


@router.post(
    "/{workflow_id}/activate",
    response_model=StoredWorkflow,
    summary="Activate",
    responses=CONFLICTS,
)
async def activate_workflow(caller: Editor, engine: EngineDep, workflow_id: str) -> Json:
    return Json((await engine.workflows.activate(caller.org, workflow_id)).wire())


@router.post(
    "/{workflow_id}/pause", response_model=StoredWorkflow, summary="Pause", responses=CONFLICTS
)
async def pause_workflow(caller: Editor, engine: EngineDep, workflow_id: str) -> Json:
    return Json((await engine.workflows.pause(caller.org, workflow_id)).wire())


@router.post(
    "/{workflow_id}/archive",
    response_model=StoredWorkflow,
    summary="Archive (final)",
    responses=CONFLICTS,
)
async def archive_workflow(caller: Editor, engine: EngineDep, workflow_id: str) -> Json:
    return Json((await engine.workflows.archive(caller.org, workflow_id)).wire())


@router.post(
    "/{workflow_id}/trigger",
    response_model=Run,
    status_code=202,
    summary="Start a run now",
    responses={**WITH_BODY, **CONFLICTS},
)
async def trigger_workflow(
    caller: Runner,
    engine: EngineDep,
    workflow_id: str,
    body: Annotated[TriggerBody | None, Body()] = None,
    idempotency_key: IdempotencyKey = None,
) -> Json:
    run = await engine.workflows.trigger(caller.org, workflow_id, body.input if body else None,
                                         idempotency_key=idempotency_key,
                                         priority=body.priority if body else None)  # fmt: skip
    return Json(run.wire(), 202, headers={"Location": f"/~{caller.org}/runs/{run.id}"})


def _document(body: WorkflowBody) -> dict[str, Any]:
    """What the client sent (fields it left out stay out, so PATCH merges only those)."""
    return body.model_dump(exclude_unset=True, by_alias=True)
