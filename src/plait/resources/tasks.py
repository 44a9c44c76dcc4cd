"""A human task as every interface shows it (``$type: HumanTask``), and pages of them.

The ``HumanTask.created``, ``.expired`` and ``.completed`` events carry the same document (with
``taskId``): the store writes it in the transaction that changes the task
(``plait.store.tasks.task_document``), and the resource is built from it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from plait.resources.base import Page, Resource, Stamp
from plait.store.records import TaskRecord
from plait.store.tasks import task_document

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
    due_at: Stamp | None = None
    escalate_at: Stamp | None = None
    escalate_to: str | None = None
    escalated_at: Stamp | None = None
    escalated_from: str | None = None
    decision: str | None = None
    comment: str | None = None
    response: Any = None
    completed_by: str | None = None
    completed_via: str | None = Field(None, description="The API key it was completed with.")
    completed_at: Stamp | None = None
    attempt: int = Field(1, description="2 and up: the step ran again after a resume.")
    run_id: str
    step_key: str
    workflow: str
    created_at: Stamp
    updated_at: Stamp

    @classmethod
    def of(cls, t: TaskRecord) -> Task:
        return cls.model_validate(task_document(t))


class TaskPage(Page[Task]):
    """Human tasks, newest first, a page at a time."""
