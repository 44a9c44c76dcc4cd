"""``/~{org}/cache`` and ``/~{org}/workflows/{workflow}/cache``: the step-result cache's live
entries (viewer), and clearing a workflow's or a namespace's entries (editor; audited). See
docs/flow-control.md, "Step-result caching"."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field

from plait.api.auth import Editor, EngineDep, Viewer
from plait.api.models import Strict
from plait.api.problems import PROBLEM_RESPONSES, ApiProblem
from plait.api.render import Json
from plait.resources.step_cache import CacheCleared, CacheEntries
from plait.service.step_cache import LIST_LIMIT

router = APIRouter(tags=["cache"], responses=PROBLEM_RESPONSES)


class Scope(Strict):
    workflow: str | None = Field(
        None, min_length=1, max_length=500,
        description="Entries stored by this workflow's runs (its name, or a stored one's id).",
    )  # fmt: skip
    namespace: str | None = Field(None, min_length=1, max_length=500,
                                  description="Entries of this namespace.")  # fmt: skip


class Listing(Scope):
    limit: int = Field(100, ge=1, le=LIST_LIMIT)


@router.get("/~{org}/cache", response_model=CacheEntries, summary="List live cache entries")
async def list_cache(caller: Viewer, engine: EngineDep,
                     query: Annotated[Listing, Query()]) -> Json:  # fmt: skip
    workflow = await _name(engine, caller.org, query.workflow)
    return await _entries(engine, caller.org, workflow, query.namespace, query.limit)


@router.delete("/~{org}/cache", response_model=CacheCleared,
               summary="Clear a workflow's or a namespace's cache entries")  # fmt: skip
async def clear_cache(caller: Editor, engine: EngineDep,
                      query: Annotated[Scope, Query()]) -> Json:  # fmt: skip
    if query.workflow is None and query.namespace is None:
        raise ApiProblem(422, "Name the workflow or the namespace whose cache to clear.",
                         kind="validation-error",
                         errors=[{"path": "$.query.workflow",
                                  "message": "workflow or namespace is required"}])  # fmt: skip
    workflow = await _name(engine, caller.org, query.workflow)
    return await _clear(engine, caller.org, workflow, query.namespace)


@router.get("/~{org}/workflows/{workflow}/cache", response_model=CacheEntries,
            summary="List a workflow's live cache entries")  # fmt: skip
async def list_workflow_cache(
    caller: Viewer, engine: EngineDep, workflow: str,
    limit: Annotated[int, Query(ge=1, le=LIST_LIMIT)] = 100,
) -> Json:  # fmt: skip
    name = await engine.step_cache.workflow_name(caller.org, workflow)
    return await _entries(engine, caller.org, name, None, limit)


@router.delete("/~{org}/workflows/{workflow}/cache", response_model=CacheCleared,
               summary="Clear a workflow's cache entries")  # fmt: skip
async def clear_workflow_cache(caller: Editor, engine: EngineDep, workflow: str) -> Json:
    name = await engine.step_cache.workflow_name(caller.org, workflow)
    return await _clear(engine, caller.org, name, None)


async def _name(engine: EngineDep, org: str, workflow: str | None) -> str | None:
    return None if workflow is None else await engine.step_cache.workflow_name(org, workflow)


async def _entries(engine: EngineDep, org: str, workflow: str | None, namespace: str | None,
                   limit: int) -> Json:  # fmt: skip
    found = await engine.step_cache.entries(org, workflow=workflow, namespace=namespace,
                                            limit=limit)  # fmt: skip
    return Json(CacheEntries(items=found).wire())


async def _clear(engine: EngineDep, org: str, workflow: str | None,
                 namespace: str | None) -> Json:  # fmt: skip
    deleted = await engine.step_cache.clear(org, workflow=workflow, namespace=namespace)
    return Json(CacheCleared(deleted=deleted).wire())
