"""``POST /~{org}/query``: the brief's MCP-style query, ``{type, filter, sort, limit, cursor}``,
answered by the finds of workflows, runs and events."""

from __future__ import annotations

import orjson
from fastapi import APIRouter
from pydantic import RootModel

from plait.api.auth import EngineDep, Viewer
from plait.api.models import QueryBody
from plait.api.problems import PROBLEM_RESPONSES, WITH_BODY, ApiProblem
from plait.api.render import Json
from plait.engine import Engine
from plait.resources.events import EventPage
from plait.resources.runs import RunPage
from plait.resources.workflows import WorkflowPage

router = APIRouter(prefix="/~{org}/query", tags=["query"], responses=PROBLEM_RESPONSES)


class QueryPage(RootModel[WorkflowPage | RunPage | EventPage]):
    """The page of the type the query asked for: workflows, runs or events."""


# The filters the run and event finds take (workflows filter on any field).
_FILTERS = {"Run": ("workflow", "status"), "Event": ("type",)}


@router.post(
    "",
    response_model=QueryPage,
    summary="Query workflows, runs or events: a page of the type asked for",
    responses=WITH_BODY,
)
async def query(caller: Viewer, engine: EngineDep, body: QueryBody) -> Json:
    _check(body)
    return Json((await _find(engine, caller.org, body)).wire())


def _check(body: QueryBody) -> None:
    allowed = _FILTERS.get(body.type)
    if allowed is None:
        return
    only = f"{body.type} queries filter on {' and '.join(allowed)} only"
    errors = [
        {"path": f"$.body.filter.{name}", "message": only}
        if name not in allowed
        else {"path": f"$.body.filter.{name}", "message": f"expected a string, got {_json(value)}"}
        for name, value in body.filter.items()
        if name not in allowed or not isinstance(value, str)
    ]
    if body.sort is not None:
        errors.append({"path": "$.body.sort", "message": f"{body.type}s are newest first"})
    if errors:
        raise ApiProblem(422, f"The {body.type} query is invalid.", kind="validation-error",
                         errors=errors)  # fmt: skip


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


async def _find(engine: Engine, org: str, body: QueryBody) -> WorkflowPage | RunPage | EventPage:
    limit, cursor, where = body.limit, body.cursor, body.filter
    if body.type == "Workflow":
        return await engine.workflows.find(
            org, where=where or None, sort=body.sort, limit=limit, cursor=cursor
        )
    if body.type == "Run":
        workflow, status = where.get("workflow"), where.get("status")
        return await engine.runs.find(
            org, workflow=workflow, status=status, limit=limit, cursor=cursor
        )
    return await engine.events.find(org, type=where.get("type"), limit=limit, cursor=cursor)
