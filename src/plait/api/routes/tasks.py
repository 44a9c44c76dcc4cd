"""``/~{org}/tasks``: human tasks: a person's inbox, one task, completing a task.

Completing needs the runner role or above (viewer keys cannot complete). A key bound to a person
(``plait keys create --user``) completes as that person, and a ``by`` naming someone else is
refused (403) unless the key is an admin's. An unbound key completes as the body's ``by``, which
must be the task's assignee unless the key is an admin's; without ``by`` the completer is the key
itself (``key:<id>``). The task records the completer (``completedBy``) and the key
(``completedVia``). See ``TaskService.complete``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field

from plait.api.auth import EngineDep, Runner, Viewer
from plait.api.models import MAX_LIMIT, Strict
from plait.api.problems import CONFLICTS, PROBLEM_RESPONSES, WITH_BODY
from plait.api.render import Json
from plait.resources.tasks import Task, TaskPage, TaskStatus

router = APIRouter(prefix="/~{org}/tasks", tags=["tasks"], responses=PROBLEM_RESPONSES)


class TaskQuery(Strict):
    assignee: str | None = Field(None, description="Only tasks assigned to this person.")
    status: TaskStatus | None = None
    limit: int = Field(100, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(None, description="A previous page's nextCursor.")


class CompleteBody(Strict):
    """A person's answer to a task."""

    decision: str | None = Field(None, description="One of the task's choices.")
    comment: str | None = None
    data: Any = Field(None, description="The answer's data (valid against the task's form).")
    by: str | None = Field(
        None,
        min_length=1,
        description="Who completes it: the key's person if it is bound to one; another "
        "person needs an admin key (acting on their behalf).",
    )


@router.get("", response_model=TaskPage, summary="List tasks (an inbox), newest first")
async def list_tasks(
    caller: Viewer, engine: EngineDep, query: Annotated[TaskQuery, Query()]
) -> Json:
    page = await engine.tasks.find(caller.org, assignee=query.assignee, status=query.status,
                                   limit=query.limit, cursor=query.cursor)  # fmt: skip
    return Json(page.wire())


@router.get("/{task_id}", response_model=Task, summary="Get a task")
async def get_task(caller: Viewer, engine: EngineDep, task_id: str) -> Json:
    return Json((await engine.tasks.get(caller.org, task_id)).wire())


@router.post(
    "/{task_id}/complete",
    response_model=Task,
    summary="Complete a task and resume its run",
    responses={**CONFLICTS, **WITH_BODY},
)
async def complete_task(
    caller: Runner, engine: EngineDep, task_id: str, body: CompleteBody
) -> Json:
    completed = await engine.tasks.complete(
        caller.org, task_id, decision=body.decision, comment=body.comment, data=body.data,
        by=body.by, user=caller.user, via=f"key:{caller.key_id}", as_admin=caller.role == "admin",
    )  # fmt: skip
    return Json(completed.wire())
