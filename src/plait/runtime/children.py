"""Child workflows: a step starts a run of another workflow, another step waits for its end.

Starting is one fenced transaction that records the parent's start step and inserts the child
run, whose id is derived from the parent's id and the step's key: a parent replayed after a crash
finds its recorded start (or, if the crash came before the commit, inserts the same id once).
A start step that runs again because its run was resumed (the child failed) starts a new child,
the step's next attempt (``child_run_id(parent, key, 2)``...); the failed child is kept.
Waiting records a ``child-result`` step and suspends the parent; the transaction that ends the
child wakes the parent, which replays and reads the child's end.

The start is refused (the start step fails, and is not retried) when the child would be deeper
below its tree's root than ``Settings.max_run_tree_depth`` or its tree would hold more than
``Settings.max_run_tree_runs`` runs, and when the workflow is Paused or Archived.
"""

from __future__ import annotations

from collections.abc import Awaitable, Coroutine
from typing import TYPE_CHECKING, Any

from plait import tracing, values
from plait.errors import ChildWorkflowFailed, SerializationError, StepFailed
from plait.store.records import TERMINAL, NewChild, StepRecord, child_run_id
from plait.workflow import Workflow

if TYPE_CHECKING:
    from plait.runtime.context import Context, _Call

__all__ = ["ChildHandle", "WorkflowRef", "child", "child_run_id", "start_child", "wait_child"]

WorkflowRef = Workflow | str
"""A code ``Workflow`` object, or a workflow's name or ``workflow_`` id."""


class ChildHandle:
    """A child run started by :meth:`Context.start_child`: its id, and its result."""

    def __init__(self, ctx: Context, run_id: str, workflow: str, start_key: str) -> None:
        self.id = run_id
        self.workflow = workflow
        self._ctx = ctx
        self._start_key = start_key

    def __repr__(self) -> str:
        return f"<ChildHandle {self.id} of {self.workflow!r}>"

    def result(self, timeout: float | None = None) -> Awaitable[Any]:
        """Wait durably (suspended) for the child to end and return its output.

        Raises ``ChildWorkflowFailed`` if it failed or was cancelled, or when ``timeout``
        seconds pass first (the child keeps running).
        """
        call = _call(self._ctx, f"{self._start_key}.result", "child-result")
        waiting = wait_child(self._ctx, call, self.id, self.workflow, timeout)
        return self._ctx._track(waiting)


def start_child(
    ctx: Context, workflow: WorkflowRef, args: tuple[Any, ...], name: str | None
) -> Coroutine[Any, Any, ChildHandle]:
    """Assign the start step its identity now; the coroutine starts the child (once)."""
    call = _call(ctx, name or f"child:{_label(workflow)}", "child")
    return _start(ctx, call, workflow, args)


def child(
    ctx: Context,
    workflow: WorkflowRef,
    args: tuple[Any, ...],
    name: str | None,
    timeout: float | None,
) -> Coroutine[Any, Any, Any]:
    """Start a child and wait for its output; both steps get their identity now."""
    start = _call(ctx, name or f"child:{_label(workflow)}", "child")
    result = _call(ctx, f"{start.key}.result", "child-result")

    async def run() -> Any:
        handle = await _start(ctx, start, workflow, args)
        return await wait_child(ctx, result, handle.id, handle.workflow, timeout)

    return run()


async def _start(
    ctx: Context, call: _Call, workflow: WorkflowRef, args: tuple[Any, ...]
) -> ChildHandle:
    recorded = call.recorded
    if recorded is None:
        recorded = await ctx.store.start_child(
            ctx.run_id, ctx.fence, _new_child(ctx, call, workflow, args)
        )
    if recorded.status == "failed":
        raise StepFailed(ctx.run_id, call.key, values.decode(recorded.error) or {})
    started = values.decode(recorded.output)
    return ChildHandle(ctx, started["runId"], started["workflow"], call.key)


def _new_child(ctx: Context, call: _Call, workflow: WorkflowRef, args: tuple[Any, ...]) -> NewChild:
    now = ctx.clock.time()
    deadline = None
    if isinstance(workflow, Workflow):
        workflow.check_arguments(args)
        deadline = None if workflow.timeout is None else now + workflow.timeout
    try:
        data = values.encode(list(args))
    except TypeError as exc:
        what = f"the input of child workflow {_label(workflow)!r} (step {call.key!r})"
        raise SerializationError(what, values.offending_type(list(args)), str(exc)) from exc
    step = StepRecord(call.key, call.position, call.name, "child", "completed", 1,
                      started_at=now, finished_at=now)  # fmt: skip
    code_name = workflow.name if isinstance(workflow, Workflow) else None
    limits = ctx.settings
    return NewChild(child_run_id(ctx.run_id, call.key), ctx.org, _label(workflow), data, step,
                    deadline, code_name, limits.max_run_tree_depth, limits.max_run_tree_runs,
                    tracing.carrier())  # fmt: skip


async def wait_child(
    ctx: Context, call: _Call, run_id: str, workflow: str, timeout: float | None
) -> Any:
    """The child's output once it has ended (recorded); suspends the parent until then."""
    recorded = call.recorded
    if recorded is not None and recorded.status == "completed":
        return values.decode(recorded.output)
    if recorded is not None and recorded.status == "failed":
        raise ChildWorkflowFailed(ctx.run_id, call.key, values.decode(recorded.error) or {})
    now = ctx.clock.time()
    outcome = await ctx.store.child_outcome(run_id)
    status = "missing" if outcome is None else outcome[0]
    if outcome is not None and status == "succeeded":
        await _record(ctx, call, "completed", outcome[1], None, now)
        return values.decode(outcome[1])
    if outcome is None or status in TERMINAL:
        cause = None if outcome is None else values.decode(outcome[2])
        error = _failure(run_id, workflow, status, cause)
        await _record(ctx, call, "failed", None, error, now)
        raise ChildWorkflowFailed(ctx.run_id, call.key, error)
    if recorded is None:
        wake = None if timeout is None else now + max(0.0, timeout)
        recorded = StepRecord(call.key, call.position, call.name, "child-result", "waiting", 0,
                              values.encode({"runId": run_id}), started_at=now,
                              wake_at=wake)  # fmt: skip
        await ctx.store.record_step(ctx.run_id, ctx.fence, recorded)
    if recorded.wake_at is not None and now >= recorded.wake_at:
        error = _failure(run_id, workflow, "timeout", None, timeout)
        await _record(ctx, call, "failed", None, error, now)
        raise ChildWorkflowFailed(ctx.run_id, call.key, error)
    raise ctx.suspend(recorded.wake_at)


def _failure(
    run_id: str, workflow: str, status: str, cause: Any, timeout: float | None = None
) -> dict[str, Any]:
    if status == "missing":
        what = "no longer exists"
    elif status == "timeout":
        what = f"did not finish within {timeout:g}s" if timeout is not None else "timed out"
    elif status == "cancelled":
        what = "was cancelled"
    else:
        what = "failed"
    detail = ""
    if isinstance(cause, dict) and status != "cancelled":
        detail = f": {cause.get('type', 'Exception')}: {cause.get('message', '')}"
    return {
        "type": "plait.ChildWorkflowFailed",
        "message": f"child run {run_id} of workflow {workflow!r} {what}{detail}",
        "childRunId": run_id, "childWorkflow": workflow, "childStatus": status, "cause": cause,
    }  # fmt: skip


async def _record(
    ctx: Context,
    call: _Call,
    status: str,
    output: bytes | None,
    error: dict[str, Any] | None,
    now: float,
) -> None:
    started = call.recorded.started_at if call.recorded is not None else now
    record = StepRecord(call.key, call.position, call.name, "child-result", status, 1, output,
                        None if error is None else values.encode(error), started,
                        now)  # fmt: skip
    await ctx.store.record_step(ctx.run_id, ctx.fence, record)


def _call(ctx: Context, name: str, kind: str) -> _Call:
    from plait.runtime.context import _Call

    key, position, recorded = ctx.replay.next(name, kind)
    return _Call(key, position, name, recorded)


def _label(workflow: WorkflowRef) -> str:
    return workflow.name if isinstance(workflow, Workflow) else workflow
