"""A human task as every interface shows it (``$type: HumanTask``), and pages of them.

The ``HumanTask.created``, ``.expired`` and ``.completed`` events carry the same document (with
``taskId``): the store writes it in the transaction that changes the task
(``plait.store.tasks.task_event_data``); a test keeps the two equal.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from plait.resources.base import Page, Resource, required_stamp, stamp
from plait.store.records import TaskRecord

TaskStatus = Literal["open", "completed", "expired", "cancelled"]


class Task(Resource):
    """A task a person completes: its question (title, description, choices or a form), whom
    it is assigned to, when it is due and escalates, and the answer once completed."""

    id: str = Field(alias="$id")
    type: Literal["HumanTask"] = Field("HumanTask", alias="$type")
    title: str
    description: str | None = None
    assignee: str
    status: TaskStatus
    choices: list[str] | None = None
    form: dict[str, Any] | None = None
    data: Any = None
    due_at: datetime | None = None
    escalate_at: datetime | None = None
    escalate_to: str | None = None
    escalated_at: datetime | None = None
    escalated_from: str | None = None
    decision: str | None = None
    comment: str | None = None
    response: Any = None
    completed_by: str | None = None
    completed_via: str | None = Field(None, description="The API key it was completed with.")
    completed_at: datetime | None = None
    attempt: int = Field(1, description="2 and up: the step ran again after a resume.")
    run_id: str
    step_key: str
    workflow: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, t: TaskRecord) -> Task:
        return cls(
            id=t.id, title=t.title, description=t.description, assignee=t.assignee,
            status=t.status,  # type: ignore[arg-type]
            choices=t.choices, form=t.form, data=t.data, due_at=stamp(t.due_at),
            escalate_at=stamp(t.escalate_at), escalate_to=t.escalate_to,
            escalated_at=stamp(t.escalated_at), escalated_from=t.escalated_from,
            decision=t.decision, comment=t.comment, response=t.response,
            completed_by=t.completed_by, completed_via=t.completed_via,
            completed_at=stamp(t.completed_at), attempt=t.attempt, run_id=t.run_id,
            step_key=t.step_key, workflow=t.workflow, created_at=required_stamp(t.created_at),
            updated_at=required_stamp(t.updated_at),
        )  # fmt: skip


class TaskPage(Page[Task]):
    """Human tasks, newest first, a page at a time."""
