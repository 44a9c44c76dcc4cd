"""Executing one run: call the workflow from the top, replaying its history, and end the run
(succeeded, failed) or suspend it (waiting)."""

from __future__ import annotations

import inspect
import logging
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from plait import logfields, metrics, tracing, values
from plait.clock import within
from plait.errors import (
    LeaseLost,
    NonDeterminismError,
    SerializationError,
    StepFailed,
    StoreError,
    WorkflowTimeout,
)
from plait.runtime import spans
from plait.runtime.context import Context
from plait.runtime.replay import Replay
from plait.runtime.unwind import Abandon, Suspend
from plait.secrets import IDENTITY, Redactor, RunSecrets

if TYPE_CHECKING:
    from plait.clock import Clock
    from plait.metrics import Metrics
    from plait.runtime.steps import StepHook
    from plait.settings import Settings
    from plait.store.base import Store
    from plait.store.costs import RunCost
    from plait.store.records import ClaimedRun
    from plait.workflow import Workflow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a replay of a run ended: terminal, or suspended (``status == "waiting"``).
    ``outcome`` is how a terminal run ended when that is not its status (``partial``)."""

    status: str
    output: bytes | None = None
    error: bytes | None = None
    outcome: str | None = None


@dataclass(frozen=True)
class Runtime:
    """What every replay needs, built once per engine."""

    store: Store
    clock: Clock
    settings: Settings
    threads: Executor
    step_hook: StepHook | None = None
    """Chooses the callable of each step attempt (see ``plait.runtime.steps.StepHook``)."""
    metrics: Metrics | None = None
    """The engine's metrics: runs ended, step attempts (see ``plait.metrics``)."""


async def execute(rt: Runtime, run: ClaimedRun, workflow: Workflow) -> Outcome | None:
    """Execute ``run`` until it ends or suspends; ``None`` if the lease was lost meanwhile."""
    replay = Replay(run.id, run.steps, ordered=workflow.ordered_replay)
    redactor = Redactor()
    store = guarded(rt.store, redactor)
    ctx = Context(
        run_id=run.id, workflow=workflow.name, fence=run.fence, replay=replay, store=store,
        clock=rt.clock, settings=rt.settings, threads=rt.threads, org=run.org,
        secrets=RunSecrets(store, run.org, redactor), step_hook=rt.step_hook,
    )  # fmt: skip
    ctx.progress_events = workflow.progress_events
    ctx.metric_names = frozenset(spec.name for spec in workflow.metrics)
    bound = ctx.secrets.bind()
    traced = tracing.ACTIVE  # None: tracing is off, and this run makes no span
    span = None if traced is None else spans.open_replay(traced, run, workflow.name)
    fields = logfields.bind(run_id=run.id, workflow=workflow.name, org=run.org,
                            trace_id=None if span is None else span.trace_id)  # fmt: skip
    counting = metrics.CURRENT.set(rt.metrics)
    ended: Outcome | None = None
    try:
        outcome = _redacted(await _outcome(ctx, run, workflow), redactor)
        if outcome.status == "waiting":
            await rt.store.suspend_run(run.id, run.fence, ctx.wake_at, rt.clock.time())
        else:
            if outcome.status == "failed":
                _log_failure(run.id, workflow.name, outcome)
            priced = workflow.pricing if outcome.status != "cancelled" else None
            cost = await rt.store.finish_run(run.id, run.fence, outcome.status, outcome.output,
                                             outcome.error, rt.clock.time(), outcome.outcome,
                                             pricer=priced)  # fmt: skip
            _count_end(rt, run, workflow.name, outcome)
            if cost is not None:
                _count_cost(rt, workflow.name, cost)
        ended = outcome
    except LeaseLost:
        log.info("run %s: lease lost, replay abandoned", run.id, extra={"run_id": run.id})
        return None
    except (Abandon, StoreError) as exc:
        log.warning("run %s: the database failed (%s); it resumes when its lease expires",
                    run.id, exc, extra={"run_id": run.id})  # fmt: skip
        return None
    finally:
        if span is not None and traced is not None:
            spans.end_replay(traced, span, ended)
        metrics.CURRENT.reset(counting)
        logfields.unbind(fields)
        bound.var.reset(bound)
    return outcome


def _count_end(rt: Runtime, run: ClaimedRun, workflow: str, outcome: Outcome) -> None:
    if rt.metrics is not None:
        rt.metrics.inc("plait_runs_ended_total", workflow, outcome.status,
                       outcome.outcome or outcome.status, org=run.org)  # fmt: skip
        rt.metrics.observe("plait_run_duration_seconds", rt.clock.time() - run.created_at,
                           workflow)  # fmt: skip


def _count_cost(rt: Runtime, workflow: str, cost: RunCost) -> None:
    """What the run added to its workflow's costs (a run priced again adds the difference,
    when it grew: a counter never goes down)."""
    added = cost.total - (cost.previous or 0)
    if rt.metrics is not None and added > 0:
        rt.metrics.inc("plait_run_cost_total", workflow, cost.currency, by=float(added))


def _redacted(outcome: Outcome, redactor: Redactor) -> Outcome:
    """``outcome`` with the values of the secrets the run read replaced by their markers."""
    if not redactor or outcome.status == "waiting":
        return outcome
    return Outcome(outcome.status, redactor.record(outcome.output),
                   redactor.record(outcome.error), outcome.outcome)  # fmt: skip


async def _outcome(ctx: Context, run: ClaimedRun, workflow: Workflow) -> Outcome:
    args = values.decode(run.input)
    try:
        workflow.check_arguments(tuple(args))
        if run.deadline_at is not None:
            result = await _before_deadline(ctx, run, workflow(ctx, *args))
        else:
            result = await workflow(ctx, *args)
    except Suspend:
        await ctx.settle()
        if ctx.replay.error is not None:
            return _failed(ctx.replay.error)
        if run.deadline_at is not None:
            ctx.wake_at = min(ctx.wake_at or run.deadline_at, run.deadline_at)
        return Outcome("waiting")
    except StepFailed as exc:
        return _failed(ctx.replay.error or exc, step=exc.step)
    except Exception as exc:
        return _failed(ctx.replay.error or exc)
    try:
        ctx.replay.check_complete()
        output = values.encode(result)
    except NonDeterminismError as exc:
        return _failed(exc)
    except TypeError as exc:
        what = f"the result of workflow {workflow.name!r}"
        return _failed(SerializationError(what, values.offending_type(result), str(exc)))
    if ctx.replay.error is not None:
        return _failed(ctx.replay.error)
    return _returned(ctx, output)


def _returned(ctx: Context, output: bytes) -> Outcome:
    """The end of a run whose workflow returned ``output``: ``succeeded``, or ``partial`` when
    it carried on past failed steps; ``failed`` (keeping its output) when no step succeeded.
    A workflow that says how it ended (``ctx.ending``) ends so, keeping its output."""
    if ctx.outcome in ("failed", "cancelled") and ctx.ending is not None:
        ending = values.encode(ctx.ending)
        return Outcome(ctx.outcome, output=output, error=ending, outcome=ctx.outcome)
    if ctx.outcome == "failed":
        failed = ", ".join(ctx.failed_steps)
        error = {"type": "plait.NoStepSucceeded", "steps": list(ctx.failed_steps),
                 "message": f"no step of the run succeeded; failed: {failed}"}  # fmt: skip
        return Outcome("failed", output=output, error=values.encode(error))
    return Outcome("succeeded", output=output, outcome=ctx.outcome)


async def _before_deadline(ctx: Context, run: ClaimedRun, body: Any) -> Any:
    """Await the workflow body, failing with ``WorkflowTimeout`` at the run's deadline."""
    assert run.deadline_at is not None
    remaining = run.deadline_at - ctx.clock.time()
    if remaining <= 0:
        body.close()
        raise WorkflowTimeout(run.id)
    finished, result = await within(ctx.clock, body, remaining)
    if not finished:
        raise WorkflowTimeout(run.id)
    return result


def guarded(store: Store, redactor: Redactor | None = None) -> Store:
    """``store`` seen by a run's context: a store error raises ``Abandon``, which user code
    cannot catch, so a step whose result could not be recorded is never taken as failed.

    With ``redactor``, the one place where a run's data goes to the store: once the run has
    read a secret, every payload it writes (encoded values, documents, records) has the
    secret's value replaced by its marker first.
    """
    return cast("Store", _Guarded(store, Redactor() if redactor is None else redactor))


class _Guarded:
    def __init__(self, store: Store, redactor: Redactor) -> None:
        self._store = store
        self._redactor = redactor

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not callable(attr):
            return attr
        redactor = self._redactor

        def call(*args: Any, **kwargs: Any) -> Any:
            if redactor:  # only once the run has read a secret
                args, kwargs = _redacted_call(attr, redactor, args, kwargs)
            result = attr(*args, **kwargs)  # queued now: write order is kept
            return _abandon_on_store_error(result) if inspect.isawaitable(result) else result

        return call


def _redacted_call(
    verb: Any, redactor: Redactor, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The arguments of a store call with the run's secrets redacted, but for those that
    identify (``run_id``, a step's key: see ``plait.secrets.IDENTITY``)."""
    bound = inspect.signature(verb).bind(*args, **kwargs)
    for name, value in bound.arguments.items():
        if name not in IDENTITY:
            bound.arguments[name] = redactor.record(value)
    return bound.args, bound.kwargs


async def _abandon_on_store_error(pending: Any) -> Any:
    try:
        return await pending
    except StoreError as exc:
        raise Abandon(str(exc)) from exc


def _log_failure(run_id: str, workflow: str, outcome: Outcome) -> None:
    error = values.decode(outcome.error) or {}
    log.warning(
        "run %s of %s failed: %s: %s", run_id, workflow, error.get("type"), error.get("message"),
        extra={"run_id": run_id, "workflow": workflow, "step": error.get("step")},
    )  # fmt: skip


def _failed(exc: BaseException, step: str | None = None) -> Outcome:
    if isinstance(exc, StepFailed):
        error: dict[str, Any] = dict(exc.error)
    else:
        error = values.error_info(exc)
    if step is not None or getattr(exc, "step", None):
        error["step"] = step or getattr(exc, "step", None)
    return Outcome("failed", error=values.encode(error))
