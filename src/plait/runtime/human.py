"""Human tasks in a run: ``await ctx.human_task(...)`` creates a task and waits for a person.

The first replay records the waiting step and creates the task in one fenced transaction
(``HumanTask.created`` is emitted with it); the run then suspends until the next of the task's
escalation and due times, holding no memory. Completing the task (service layer) completes the
step and wakes the run, which replays and returns the result. A run woken at the escalation
time reassigns the task (compare-and-set; ``HumanTask.escalated``) and suspends again; a run
woken at the due time expires the task and fails the step with ``TaskExpired``. A step that runs
again after its run was resumed (its record was dropped) opens the step's next task attempt, with
a new id and due time; the expired task is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from plait import values
from plait.errors import StepFailed, TaskExpired
from plait.ids import new_id
from plait.retry import seconds_of
from plait.store.records import NewTask, StepRecord, TaskRecord, iso_time

if TYPE_CHECKING:
    from plait.runtime.context import Context, _Call

DEFAULT_CHOICES = ("approve", "reject")
ANYONE = "*"
"""The assignee of a task in the organization's shared inbox: anyone who may complete tasks
may complete it (a step's failure under review, when no reviewer is named)."""


@dataclass(frozen=True, slots=True)
class Escalation:
    """Reassign a task still open ``after`` a duration (seconds or a ``timedelta``) to ``to``.

    >>> Escalation(to="vp@example.com", after=timedelta(hours=12))
    """

    to: str
    after: float | timedelta

    @property
    def seconds(self) -> float:
        return seconds_of(self.after)


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """What a task asks, checked before anything is stored."""

    title: str
    assignee: str
    choices: list[str] | None
    form: dict[str, Any] | None
    due: float | None
    escalation: Escalation | None
    description: str | None
    data: Any

    @classmethod
    def of(
        cls,
        title: str,
        assignee: Any,
        choices: list[str] | tuple[str, ...] | None,
        form: dict[str, Any] | None,
        due: float | timedelta | None,
        escalation: Escalation | dict[str, Any] | None,
        description: str | None,
        data: Any,
    ) -> TaskSpec:
        if not isinstance(title, str) or not title:
            raise ValueError("a human task needs a title (a non-empty string)")
        if not isinstance(assignee, str) or not assignee:
            raise ValueError(f"task {title!r}: the assignee must be a non-empty string, "
                             f"got {assignee!r}")  # fmt: skip
        if form is not None:
            check_form(form, title)
        picked = _choices(choices, form, title)
        limit = None if due is None else seconds_of(due)
        if limit is not None and limit <= 0:
            raise ValueError(f"task {title!r}: due must be a positive duration")
        values.encode(data)  # a value that is not JSON fails here, naming its type
        return cls(title, assignee, picked, form, limit, _escalation(escalation, title),
                   description, data)  # fmt: skip


def check_form(form: Any, title: str) -> None:
    """Raise ``ValueError`` unless ``form`` is a valid JSON Schema."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    if not isinstance(form, dict):
        raise ValueError(f"task {title!r}: form must be a JSON Schema (an object)")
    try:
        Draft202012Validator.check_schema(form)
    except SchemaError as exc:
        raise ValueError(f"task {title!r}: form is not a valid JSON Schema: {exc.message}") from exc


def _choices(
    choices: list[str] | tuple[str, ...] | None, form: dict[str, Any] | None, title: str
) -> list[str] | None:
    if choices is None:
        return None if form is not None else list(DEFAULT_CHOICES)
    picked = list(choices)
    if not picked or not all(isinstance(c, str) and c for c in picked):
        raise ValueError(f"task {title!r}: choices must be a non-empty list of strings")
    return picked


def _escalation(value: Escalation | dict[str, Any] | None, title: str) -> Escalation | None:
    if value is None or isinstance(value, Escalation):
        found = value
    elif isinstance(value, dict) and set(value) == {"to", "after"}:
        found = Escalation(value["to"], value["after"])
    else:
        raise ValueError(f"task {title!r}: escalation must be Escalation(to=..., after=...) "
                         f"or {{'to': ..., 'after': ...}}, got {value!r}")  # fmt: skip
    if found is not None and (not isinstance(found.to, str) or not found.to):
        raise ValueError(f"task {title!r}: escalation.to must be a non-empty string")
    if found is not None and found.seconds <= 0:
        raise ValueError(f"task {title!r}: escalation.after must be a positive duration")
    return found


async def run_human_task(ctx: Context, call: _Call, spec: TaskSpec) -> dict[str, Any]:
    """The task's result once a person completes it; ``TaskExpired`` once it is due."""
    recorded = call.recorded
    if recorded is not None and recorded.status == "completed":
        result: dict[str, Any] = values.decode(recorded.output)
        return result
    if recorded is not None and recorded.status == "failed":
        raise _failure(ctx.run_id, call.key, values.decode(recorded.error))
    task = None if recorded is None else await ctx.store.task_for_step(ctx.run_id, call.key)
    if task is None:
        task = await _create(ctx, call, spec)
    return await _progress(ctx, call, task)


async def _create(ctx: Context, call: _Call, spec: TaskSpec) -> TaskRecord:
    now = ctx.clock.time()
    escalation = spec.escalation
    task = NewTask(
        org=ctx.org, id=new_id("task", 8), run_id=ctx.run_id, step_key=call.key,
        workflow=ctx.workflow, title=spec.title, assignee=spec.assignee, created_at=now,
        description=spec.description, choices=spec.choices, form=spec.form, data=spec.data,
        due_at=None if spec.due is None else now + spec.due,
        escalate_at=None if escalation is None else now + escalation.seconds,
        escalate_to=None if escalation is None else escalation.to,
    )  # fmt: skip
    spec_json = values.encode({"taskId": task.id})
    step = StepRecord(call.key, call.position, call.name, "task", "waiting", 0, spec_json,
                      started_at=now, wake_at=task.due_at)  # fmt: skip
    return await ctx.store.create_task(ctx.fence, step, task)


async def _progress(ctx: Context, call: _Call, task: TaskRecord) -> dict[str, Any]:
    """Return, escalate, expire or suspend, depending on the task and the time."""
    now = ctx.clock.time()
    if _escalation_due(task, now):
        task = await ctx.store.escalate_task(ctx.fence, task, now)
    if task.status == "open" and task.due_at is not None and now >= task.due_at:
        error = _expiry(task)
        task = await ctx.store.expire_task(ctx.fence, task, values.encode(error), now)
        if task.status == "expired":
            raise TaskExpired(ctx.run_id, call.key, error)
    if task.status == "completed":
        return task.result()
    if task.status == "expired":
        raise TaskExpired(ctx.run_id, call.key, _expiry(task))
    if task.status == "cancelled":
        error = {"type": "plait.errors.TaskCancelled", "taskId": task.id,
                 "message": f"task {task.id} ({task.title!r}) was cancelled"}  # fmt: skip
        raise StepFailed(ctx.run_id, call.key, error)
    raise ctx.suspend(_next_wake(task))


def _escalation_due(task: TaskRecord, now: float) -> bool:
    return (
        task.status == "open" and task.escalated_at is None and task.escalate_to is not None
        and task.escalate_at is not None and now >= task.escalate_at
    )  # fmt: skip


def _next_wake(task: TaskRecord) -> float | None:
    times = [task.due_at]
    if task.escalated_at is None and task.escalate_to is not None:
        times.append(task.escalate_at)
    pending = [t for t in times if t is not None]
    return min(pending) if pending else None


def _expiry(task: TaskRecord) -> dict[str, Any]:
    due = iso_time(task.due_at) if task.due_at is not None else None
    message = (f"task {task.id} ({task.title!r}, assigned to {task.assignee}) expired at {due}: "
               "nobody completed it by its due time")  # fmt: skip
    return {"type": "plait.errors.TaskExpired", "message": message, "taskId": task.id,
            "dueAt": due}  # fmt: skip


def _failure(run_id: str, key: str, error: dict[str, Any]) -> StepFailed:
    if error.get("type") == "plait.errors.TaskExpired":
        return TaskExpired(run_id, key, error)
    return StepFailed(run_id, key, error)
