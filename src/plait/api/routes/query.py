"""``POST /~{org}/query``: the brief's MCP-style query, a page ``{type, filter, sort, limit,
cursor}`` or one resource ``{type, id}``, answered by ``engine.query`` (the MCP server's
``query`` tool calls the same service)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import RootModel

from plait.api.auth import EngineDep, Viewer
from plait.api.models import QueryBody
from plait.api.problems import PROBLEM_RESPONSES, WITH_BODY
from plait.api.render import Json
from plait.resources.events import Event, EventPage
from plait.resources.machines import MachineInstance, MachineInstancePage
from plait.resources.runs import Run, RunPage
from plait.resources.schedules import Schedule, SchedulePage
from plait.resources.tasks import Task, TaskPage
from plait.resources.webhooks import Webhook, WebhookPage
from plait.resources.workflows import StoredWorkflow, WorkflowPage

router = APIRouter(prefix="/~{org}/query", tags=["query"], responses=PROBLEM_RESPONSES)


class QueryPage(
    RootModel[
        WorkflowPage | RunPage | EventPage | TaskPage | SchedulePage | WebhookPage
        | MachineInstancePage | StoredWorkflow | Run | Event | Task | Schedule | Webhook
        | MachineInstance
    ]
):  # fmt: skip
    """The page of the type the query asked for, or, asked by ``id``, that one resource."""


@router.post(
    "",
    response_model=QueryPage,
    summary="Query workflows, runs, events, tasks, schedules, webhooks or state machine "
    "instances: a page of the type asked for, or one by id",
    responses=WITH_BODY,
)
async def query(caller: Viewer, engine: EngineDep, body: QueryBody) -> Json:
    found = await engine.query.answer(
        caller.org, body.type, id=body.id, filter=body.filter, sort=body.sort,
        limit=body.limit, cursor=body.cursor,
    )  # fmt: skip
    return Json(found.wire())
