"""Interpret a Plan as a durable workflow: each node is a ``ctx.step`` (or a sleep, or a recorded
decision), so replay, retries, suspension and crash recovery are the runtime's, not ours.

Semantics: top-level steps form a dependency graph and independent ones run concurrently;
nested lists (branches, fallbacks, loop bodies) run in order. A false ``condition`` records the
step as ``skipped`` (output null). After its retries, a failed step follows its error policy:
``fallback`` runs its fallback steps, ``continue`` (or ``required: false``) records the failure
and carries on with a null output, ``stop`` fails the run, ``rollback`` too after adding the
step's own compensation, ``human-review`` asks a person (``plait.interpreter.review``). A run
that fails for any reason (a step, its output, its timeout) first runs the compensations of
completed steps in reverse order of completion; a suspension or a cancellation compensates
nothing.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from plait import tracing, values
from plait.actions.base import ActionContext, Actions
from plait.definitions.model import REVIEW_ACTION, ActionStep, WorkflowStep
from plait.errors import (
    PlaitError,
    RequiredStepSkipped,
    SchemaViolation,
    StepFailed,
    StepTimeout,
    WorkflowTimeout,
)
from plait.expressions import EvaluationError, compile_expression
from plait.expressions.cost import cost_limit
from plait.interpreter.child import run_workflow_step
from plait.interpreter.contexts import assign, code_context, own_context, start_context
from plait.interpreter.deadline import FINAL, Deadline, Expired, bounded, expired
from plait.interpreter.frame import Frame, truthy
from plait.interpreter.human import run_human_task
from plait.interpreter.located import Locate, declared, located_error, locator
from plait.interpreter.metrics import record_step_metrics, records_metrics
from plait.interpreter.plan import GROUPS, Node, Plan
from plait.interpreter.progress import announce_step
from plait.interpreter.review import review_failure
from plait.interpreter.secrets import secret_scope
from plait.runtime import spans
from plait.runtime.context import Context
from plait.runtime.limits import for_action
from plait.runtime.step_cache import templated
from plait.runtime.unwind import Suspend
from plait.store.records import COMPENSATED, StepRecord, iso_time

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

Interpret = Callable[..., Coroutine[Any, Any, Any]]

_UNRECOVERED = object()  # a failure carried on past (continue, not required): output null
RUN_DEADLINE = "run.deadline"
"""Key of the recorded deadline of the run's ``timeout``."""


def interpreter(plan: Plan, actions: Actions, clients: dict[str, Any]) -> Interpret:
    """The workflow function that runs ``plan``: ``async def f(ctx, input=None)``. It enforces
    the definition's ``timeout`` itself (so that a timed-out run compensates): the workflow
    registered for it has none."""
    order = {node.id: i for i, node in enumerate(plan.walk())}

    async def interpret(ctx: Context, input: Any = None, event: Any = None) -> Any:
        with cost_limit(ctx.settings.max_expression_cost):
            return await _Run(plan, actions, clients, order, ctx, input, event).execute()

    interpret.__name__ = plan.name
    return interpret


class _Run:
    def __init__(
        self,
        plan: Plan,
        actions: Actions,
        clients: dict[str, Any],
        order: dict[str, int],
        ctx: Context,
        input: Any,
        event: Any = None,
    ) -> None:
        self.plan = plan
        self.actions = actions
        self.clients = clients
        self.order = order
        """Definition order of step ids: of steps that ended at the same instant, the later
        defined is undone first (the same on every replay)."""
        self.ctx = ctx
        self.input = input
        self.completed: list[_Done] = []
        """Steps with a compensation that completed (or rolled back), to undo on failure."""
        self.outcomes: dict[str, str] = {}
        """How each step key ended in this replay: succeeded, failed or skipped."""
        self.groups: set[str] = set()
        """Keys of the groups (parallel, condition, loop) that ended: no step of their own."""
        self.failures: set[str] = set()
        """Keys of steps that failed after their retries (saved by a fallback or not)."""
        self.lacking: set[str] = set()
        """Keys of steps whose dependents cannot run: failed under ``required: false`` (not
        carried on), or skipped because a step they depend on was such."""
        self.event = event
        self.context: dict[str, Any] = {}
        """The workflow context (``plait.interpreter.contexts``), when the plan has one."""
        self.root = Frame(self.names(input), {}, order=[node.id for node in plan.nodes])

    def names(self, input: Any) -> dict[str, Any]:
        """The fixed names of the run. A manual run of an event-triggered workflow takes the
        trigger's entity as its input, so ``deal`` is the input of a run of a ``Deal.won``
        workflow started by hand."""
        base: dict[str, Any] = {"input": input, "inputs": input, "event": self.event}
        for noun in self.plan.nouns:
            base[noun] = input
        if self.plan.context is not None:  # the same object as it changes, and no step's own
            base.update(context=self.context, node={})
        if "now" in self.plan.names:
            base["now"] = iso_time(self.ctx.now().timestamp())
        return base

    async def execute(self) -> Any:
        """Run the graph and render the output; on any failure, compensate first. Suspension
        and cancellation are ``BaseException``: they pass without compensating."""
        try:
            start_context(self)
            await self.within_timeout()
            scope = self.root.scope()
            if self.plan.output is not None:
                output = self.plan.output.render(scope)
            else:
                output = {node.id: self.root.outputs.get(node.id) for node in self.plan.nodes}
            _check(self.plan.output_schema, output, f"the output of workflow {self.plan.name!r}")
        except Exception:
            await self.compensate()
            raise
        self.judge()
        return output

    def judge(self) -> None:
        """Tell the runtime how the run ended when steps failed and it carried on past them
        (``continue``, ``required: false``): ``partial``, or ``failed`` if no step succeeded
        (a group around failed steps is no step of its own; nothing completed to undo)."""
        failed = [key for key, outcome in self.outcomes.items() if outcome == "failed"]
        if not failed:
            return
        succeeded = any(outcome == "succeeded" for key, outcome in self.outcomes.items()
                        if key not in self.groups)  # fmt: skip
        self.ctx.outcome = "partial" if succeeded else "failed"
        self.ctx.failed_steps = failed

    async def within_timeout(self) -> None:
        """The graph, within the run's ``timeout``, counted from its first replay. The
        deadline is recorded (kind ``deadline``): a resume drops it, and a fork does not copy
        it, so either gets the whole budget again."""
        seconds = self.plan.definition.timeout
        if seconds is None:
            await self.graph(self.plan.nodes, self.root)
            return
        at = self.ctx.recorded(RUN_DEADLINE, lambda: self.ctx.clock.time() + seconds,
                               kind="deadline")  # fmt: skip
        deadline = Deadline(at)
        work = self.graph(self.plan.nodes, self.root)
        try:
            await bounded(self.ctx, work, deadline)
        except Expired as exc:
            if exc.deadline is not deadline:
                raise
            raise WorkflowTimeout(self.ctx.run_id, seconds) from None

    # -- structure ------------------------------------------------------------------------------

    async def graph(self, nodes: list[Node], frame: Frame) -> None:
        """Run ``nodes`` as a dependency graph: each starts when its dependencies have ended."""
        ids = {n.id for n in nodes}
        blocking = {n.id: len(_waits_for(n) & ids) for n in nodes}
        dependents: dict[str, list[Node]] = {}
        for node in nodes:
            for dep in _waits_for(node) & ids:
                dependents.setdefault(dep, []).append(node)
        ready = [n for n in nodes if blocking[n.id] == 0]
        running: dict[asyncio.Future[Any], Node] = {}
        finished_count = 0
        try:
            while ready or running:
                if not running and len(ready) == 1:  # a chain: no task needed
                    node = ready.pop()
                    await self.node(node, frame)
                    ready.extend(self._unblocked(node, blocking, dependents))
                    finished_count += 1
                    continue
                for node in ready:
                    running[asyncio.ensure_future(self.node(node, frame))] = node
                ready = []
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for future in done:
                    node = running.pop(future)
                    future.result()
                    ready.extend(self._unblocked(node, blocking, dependents))
                    finished_count += 1
        except Suspend:
            # Steps already running finish and are recorded before the run suspends; cancelled
            # now, they would run again on replay.
            await asyncio.gather(*running, return_exceptions=True)
            running.clear()
            raise
        finally:
            await _cancel(running)
        if finished_count < len(nodes):
            stuck = ", ".join(n.id for n in nodes if blocking[n.id] > 0)
            raise PlaitError(f"steps can never start (unmet dependencies): {stuck}")

    @staticmethod
    def _unblocked(
        node: Node, blocking: dict[str, int], dependents: dict[str, list[Node]]
    ) -> list[Node]:
        freed = []
        for dependent in dependents.get(node.id, ()):
            blocking[dependent.id] -= 1
            if blocking[dependent.id] == 0:
                freed.append(dependent)
        return freed

    async def sequence(self, nodes: list[Node], frame: Frame) -> Any:
        output = None
        for node in nodes:
            output = await self.node(node, frame)
        return output

    async def node(self, node: Node, frame: Frame) -> Any:
        key = frame.key(node.id)
        ends = f"{key}.result" if isinstance(node.step, WorkflowStep) and node.step.wait else None
        if node.step.kind not in GROUPS and (deadline := expired(self.ctx, key, ends)) is not None:
            raise Expired(deadline)  # replaying past a deadline: nothing new starts
        if unmet := self.unmet(node, frame):
            return await self.skip(node, frame, key, unmet)
        try:
            holds = node.condition is None or await self.holds(node, frame, key)
            output = await self.run(node, frame, key) if holds else None
        except StepFailed as failure:
            self.failures.add(key)
            output = await self.recover(node, frame, key, failure)
            if output is _UNRECOVERED:
                self.outcomes[key] = "failed"
                if not self.carries_on(node):
                    self.lacking.add(key)
                output = None
            else:  # saved by its fallback: it counts as done, so its compensation applies
                self.done(node, frame, key, output)
        else:
            if not holds:
                return await self.skip(node, frame, key)
            self.done(node, frame, key, output)
        frame.outputs[node.id] = output
        if node.assign is not None and self.outcomes.get(key) == "succeeded":
            await assign(self, node, frame, key, output)
        if (
            key not in self.failures
            and self.outcomes.get(key) == "succeeded"
            and (records_metrics(self, node))
        ):
            await record_step_metrics(self, node, frame, key, output)
        if frame is self.root and self.ctx.progress_events:
            announce_step(self.ctx, self.plan, self.outcomes, key)
        return output

    def carries_on(self, node: Node) -> bool:
        """Whether the run carries on past the failure of ``node`` as if it had ended with a
        null output (its policy is ``continue``, or a reviewer chose to skip it), rather than
        only tolerating it (``required: false``): then the steps that depend on it run."""
        policy = node.step.on_error or self.plan.definition.on_error
        return policy in ("continue", "human-review")

    def unmet(self, node: Node, frame: Frame) -> list[str]:
        """The steps ``node`` depends on (``depends_on``) that failed and were only tolerated
        (``required: false``), or were skipped because a step they depend on did: the step
        cannot have what it needs (brief 003: dependencies not met)."""
        return [dep for dep in node.step.depends_on if frame.key(dep) in self.lacking]

    async def skip(self, node: Node, frame: Frame, key: str, unmet: Sequence[str] = ()) -> None:
        """Record step ``key`` as skipped (its output is null): by its condition, or, naming
        them, by the ``unmet`` dependencies that failed. A step marked ``required: true``
        fails the run instead, whatever the error policy (brief 003)."""
        if node.step.required:
            where = locator(node.step, "depends_on" if unmet else "condition")
            await self.fail(key, RequiredStepSkipped(node.id, list(unmet)), where)
        why = {"reason": "dependency", "failed": list(unmet)} if unmet else None
        self.ctx.recorded(key, lambda: why, kind="skipped", status="skipped")
        frame.outputs[node.id] = None
        self.outcomes[key] = "skipped"
        if unmet:
            self.lacking.add(key)
        if frame is self.root and self.ctx.progress_events:
            announce_step(self.ctx, self.plan, self.outcomes, key)

    def done(self, node: Node, frame: Frame, key: str, output: Any, status: str = "") -> None:
        """Note that step ``key`` ended; one with a compensation is remembered with the time
        it ended (as recorded), so that compensations run in reverse order of completion."""
        self.outcomes[key] = status or "succeeded"
        if node.step.kind in GROUPS:
            self.groups.add(key)
        if node.compensation:
            ended = self.ended_at(node, key, saved=status == "" and key in self.failures)
            rank = (ended, self.order.get(node.id, 0), len(self.completed))
            self.completed.append(_Done(rank, node, frame, output))

    def ended_at(self, node: Node, key: str, *, saved: bool) -> float:
        """When step ``key`` ended: its record's finish time on replay. A condition or a loop
        has no record of its end, nor has a step saved by its fallback: they get one."""
        if saved or node.step.kind in ("condition", "foreach"):
            ended: float = self.ctx.recorded(f"{key}.ended", self.ctx.clock.time, kind="ended")
            return ended
        record = self.ctx.replay.peek(key)
        if node.step.kind == "workflow":  # a child ends with its result, not its start
            record = self.ctx.replay.peek(f"{key}.result") or record
        if record is not None and record.status in FINAL and record.finished_at is not None:
            return record.finished_at
        return self.ctx.clock.time()

    async def holds(self, node: Node, frame: Frame, key: str) -> bool:
        assert node.condition is not None
        try:
            return truthy(node.condition.evaluate(frame.scope()))
        except EvaluationError as exc:
            await self.fail(key, exc, locator(node.step, "condition"))
            raise  # unreachable: fail() raises StepFailed

    async def run(self, node: Node, frame: Frame, key: str) -> Any:
        kind = node.step.kind
        if kind in GROUPS and node.timeout is not None:
            return await self.group_within(node, frame, key)
        return await self.kind(node, frame, key)

    async def group_within(self, node: Node, frame: Frame, key: str) -> Any:
        """A group within its ``timeout``: on time, its children are cancelled, and the group
        fails with ``StepTimeout`` (its error policy applies). A group whose timeout is recorded
        fails again on replay, whatever ended since (its children replay only as far as they
        had got in time, so what they completed can be compensated)."""
        seconds = node.timeout
        assert seconds is not None
        error = located_error(locator(node.step), StepTimeout(key, seconds))
        # A condition step's key holds its branch: its timeout is recorded beside it.
        where = f"{key}.timeout" if node.step.kind == "condition" else key
        timed_out = self.ctx.replay.peek(where)
        at = self.ctx.recorded(f"{key}.deadline", lambda: self.ctx.clock.time() + seconds,
                               kind="deadline")  # fmt: skip
        deadline = Deadline(at)
        try:
            output = await bounded(self.ctx, self.kind(node, frame, key), deadline)
            if not _is_error(timed_out, error["type"]):
                return output
        except Expired as exc:
            if exc.deadline is not deadline:
                raise
        self.ctx.recorded(where, lambda: None, kind="group", status="failed", error=error)
        raise StepFailed(self.ctx.run_id, key, error)

    async def kind(self, node: Node, frame: Frame, key: str) -> Any:
        kind = node.step.kind
        if kind == "action":
            return await self.action(node, frame, key)
        if kind == "parallel":
            return await self.parallel(node, frame, key)
        if kind == "condition":
            return await self.branch(node, frame, key)
        if kind == "foreach":
            return await self.foreach(node, frame, key)
        if kind == "wait":
            return await self.wait(node, frame, key)
        if kind == "human-task":
            return await run_human_task(self, node, frame, key)
        if kind == "workflow":
            return await run_workflow_step(self, node, frame, key)
        return await self.sleep(node, frame, key)

    async def recover(self, node: Node, frame: Frame, key: str, failure: StepFailed) -> Any:
        """Apply the step's error policy to a failure that survived its retries."""
        policy = node.step.on_error or self.plan.definition.on_error
        if policy == "human-review" and node.step.kind not in GROUPS:
            if node.fallback and self.actions.known(REVIEW_ACTION):  # the action, as a fallback
                return await self.sequence(node.fallback, frame)
            retried, output = await review_failure(self, node, frame, key, failure)
            return output if retried else _UNRECOVERED
        if policy == "fallback" and node.fallback:
            return await self.sequence(node.fallback, frame)
        if policy in ("stop", "rollback", "human-review") and node.step.required is not False:
            if policy == "rollback":  # its own compensation runs too, first
                self.done(node, frame, key, None, status="failed")
            raise failure
        return _UNRECOVERED

    async def fail(self, key: str, exc: Exception, locate: Locate) -> None:
        """Record ``exc`` as the failure of step ``key`` (where ``locate`` says it is in the
        definition) and raise ``StepFailed``."""

        def raise_it() -> None:
            raise exc

        with declared(locate):
            await self.ctx.step(key, _as_async(raise_it))

    # -- kinds ----------------------------------------------------------------------------------

    async def action(
        self, node: Node, frame: Frame, key: str, extra: dict[str, Any] | None = None
    ) -> Any:
        step = node.step
        assert step.kind == "action"
        action = self.actions.get(step.action)
        own = await own_context(self, node, frame, key)
        if own is not None:
            extra = {**(extra or {}), "node": own}
        scope = frame.scope(extra)
        ctx = self.ctx

        async def invoke() -> Any:
            found = await secret_scope(ctx, node.input)  # read now, as the step runs
            here = frame.scope({**(extra or {}), **found}) if found else scope
            value = node.input.render(here) if node.input is not None else None
            _check(node.input_schema, value, f"the input of step {key!r}")
            if step.action == "code":
                value = self.code_input(node, value, frame, key, own)
            if tracing.ACTIVE is not None:
                spans.note_input(tracing.ACTIVE, value)  # with payloads on: the step's input
            actx = ActionContext(ctx.run_id, ctx.step_id or key, ctx.workflow, ctx.org,
                                 ctx.store, ctx.clock, clients=self.clients)  # fmt: skip
            if action.is_async:
                result = await action.call(value, actx)
            else:
                call = functools.partial(contextvars.copy_context().run, action.bind(value, actx))
                result = await asyncio.get_running_loop().run_in_executor(ctx.threads, call)
            _check(node.output_schema, result, f"the output of step {key!r}")
            return result

        spec = step.cache
        cache = (
            None
            if spec is None
            else templated(spec.key, spec.ttl, spec.namespace or f"{ctx.workflow}/{step.id}", scope)
        )
        limited = for_action(step.limits, action.limits, step.action, f"{ctx.workflow}/{step.id}")
        with declared(locator(step)):
            return await ctx.step(key, invoke, retry=node.retry, timeout=node.timeout,
                                  cache=cache, **limited)  # fmt: skip

    def code_input(
        self, node: Node, value: Any, frame: Frame, key: str, own: dict[str, Any] | None
    ) -> dict[str, Any]:
        params = dict(value) if isinstance(value, dict) else {}
        code = node.code if node.code is not None else params.pop("code", None)
        context = {**code_context(self, key, own), **params}
        return {"code": code, "input": self.input, "context": context, "outputs": frame.outputs}

    async def parallel(self, node: Node, frame: Frame, key: str) -> Any:
        step = node.step
        assert step.kind == "parallel"
        if step.strategy == "all":
            results = await asyncio.gather(
                *[self.node(child, frame) for child in node.children], return_exceptions=True
            )
            pairs = zip(node.children, results, strict=True)
            failed = [(c, r) for c, r in pairs if isinstance(r, BaseException)]
            for _, problem in failed:
                if not isinstance(problem, StepFailed):
                    raise problem
            if failed:
                summary = "; ".join(f"{c.id}: {e}" for c, e in failed)
                message = f"{len(failed)} of {len(node.children)} parallel steps failed: {summary}"
                group_error = {"type": "plait.ParallelFailed", "message": message}
                self.ctx.recorded(key, lambda: None, kind="group", status="failed",
                                  error=group_error)  # fmt: skip
                raise StepFailed(self.ctx.run_id, key, group_error)
            output = {c.id: frame.outputs.get(c.id) for c in node.children}
            self.ctx.recorded(key, lambda: output, kind="group")
            return output
        return await self.race(node, frame, key)

    async def race(self, node: Node, frame: Frame, key: str) -> Any:
        """``any``: the first child to succeed wins; ``first``: the first to end wins."""
        step = node.step
        assert step.kind == "parallel"
        recorded = self.ctx.replay.peek(f"{key}.winner")
        try:
            if recorded is not None:
                winner = values.decode(recorded.output)
                child = next(c for c in node.children if c.id == winner)
                await self.losers(node, frame, child, recorded.finished_at)
                output = await self.node(child, frame)
            else:
                child, output = await self._first(node, frame, step.strategy == "any")
                winner = child.id
        except StepFailed as failure:
            self.ctx.recorded(key, lambda: None, kind="group", status="failed",
                              error=dict(failure.error, step=failure.step))  # fmt: skip
            raise
        self.ctx.recorded(f"{key}.winner", lambda: winner, kind="winner")
        self.ctx.recorded(key, lambda: output, kind="group")
        return output

    async def losers(self, node: Node, frame: Frame, winner: Node, decided: float | None) -> None:
        """Replay the losers of a race whose winner is recorded, only as far as they had got
        when it was decided (``decided``): what they completed is compensated as on the first
        replay. Nothing new starts; a loser that had not ended stops there."""
        cutoff = Deadline(self.ctx.clock.time() if decided is None else decided)
        for child in node.children:
            if child is not winner:
                try:
                    await bounded(self.ctx, self.node(child, frame), cutoff)
                except (Expired, StepFailed):
                    continue

    async def _first(self, node: Node, frame: Frame, need_success: bool) -> tuple[Node, Any]:
        """The first child to end (``need_success``: the first to succeed; a child that failed
        without raising, being optional or ``continue``, or was skipped, does not win). A child
        that suspends (a sleep, a wait, a task) has not ended: when no other child wins, the
        race suspends with it."""
        tasks: dict[asyncio.Future[Any], Node] = {
            asyncio.ensure_future(self.node(c, frame)): c for c in node.children
        }
        failures: list[tuple[Node, BaseException]] = []
        suspended: Suspend | None = None
        try:
            pending = set(tasks)
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: node.children.index(tasks[f])):
                    child, problem = tasks[future], future.exception()
                    if isinstance(problem, Suspend):
                        suspended = problem
                        continue
                    if not need_success:
                        if problem is not None:
                            raise problem
                        return child, future.result()
                    outcome = self.outcomes.get(frame.key(child.id))
                    if problem is None and outcome == "succeeded":
                        return child, future.result()
                    if problem is None:
                        problem = PlaitError(f"{outcome or 'did not succeed'}")
                    failures.append((child, problem))
        finally:
            await _cancel(tasks)
        if suspended is not None:
            raise suspended
        summary = "; ".join(f"{c.id}: {e}" for c, e in failures)
        message = f"no parallel step succeeded: {summary}"
        error = {"type": "plait.ParallelFailed", "message": message}
        raise StepFailed(self.ctx.run_id, frame.key(node.id), error)

    async def branch(self, node: Node, frame: Frame, key: str) -> Any:
        assert node.test is not None
        try:
            taken = "then" if truthy(node.test.evaluate(frame.scope())) else "else"
        except EvaluationError as exc:
            await self.fail(key, exc, locator(node.step, "test"))
            raise
        taken = self.ctx.recorded(key, lambda: taken, kind="branch")
        return await self.sequence(node.then if taken == "then" else node.else_, frame)

    async def foreach(self, node: Node, frame: Frame, key: str) -> Any:
        step = node.step
        assert step.kind == "foreach" and node.items is not None
        try:
            items = node.items.evaluate(frame.scope())
            if not isinstance(items, list):
                raise EvaluationError(step.items, f"expected a list, got {type(items).__name__}")
        except EvaluationError as exc:
            await self.fail(key, exc, locator(step, "items"))
            raise
        limit = asyncio.Semaphore(step.concurrency)

        async def one(index: int, item: Any) -> Any:
            async with limit:
                child = frame.child({step.as_: item, "index": index}, f"[{index}]")
                return await self.sequence(node.children, child)

        return list(await asyncio.gather(*[one(i, item) for i, item in enumerate(items)]))

    async def wait(self, node: Node, frame: Frame, key: str) -> Any:
        """Wait for an event; the run-local names the match reads are captured now."""
        step = node.step
        assert step.kind == "wait"
        bindings: dict[str, Any] = {}
        if step.match is not None:
            scope = frame.scope()
            names = compile_expression(step.match).names - {"event"}
            bindings = {n: scope[n] for n in names if n in scope}
        return await self.ctx.wait_for(step.event, step.match, step.timeout, name=key,
                                       scope=bindings)  # fmt: skip

    async def sleep(self, node: Node, frame: Frame, key: str) -> Any:
        spec = node.seconds
        seconds = 0.0
        if isinstance(spec, int | float):
            seconds = float(spec)
        elif spec is not None:
            try:
                seconds = float(spec.evaluate(frame.scope()))
            except (EvaluationError, TypeError, ValueError) as exc:
                failed = EvaluationError(spec.source, f"not a number: {exc}")
                await self.fail(key, failed, locator(node.step, "seconds"))
                raise
        await self.ctx.sleep(key, seconds)
        return None

    # -- compensation ---------------------------------------------------------------------------

    async def compensate(self) -> None:
        """Undo completed steps, the last to complete first. Each step's compensation steps run
        in order; one that fails (after its retries) ends that step's sequence, and the other
        steps are still undone. Each is recorded as a step of the run, after a record of the
        keys of the steps undone (``run.compensated``): a rolled-back run does not resume."""
        undone = sorted(self.completed, key=lambda d: d.rank, reverse=True)
        if undone:
            keys = [d.frame.key(d.node.id) for d in undone]
            self.ctx.recorded(COMPENSATED, lambda: keys, kind="value")
        for done in undone:
            for undo in done.node.compensation:
                target = undo.step.undoes if isinstance(undo.step, ActionStep) else None
                seen = done.output if target is None else done.frame.outputs.get(target)
                try:
                    await self.action(undo, done.frame, done.frame.key(undo.id),
                                      {"output": seen, "result": seen})  # fmt: skip
                except StepFailed:
                    break  # recorded on the compensation step


class _Done(NamedTuple):
    """A step to compensate: its rank (when it ended, as recorded; then definition order and
    order of arrival), and what its compensation sees."""

    rank: tuple[float, int, int]
    node: Node
    frame: Frame
    output: Any


def _check(validator: Validator | None, value: Any, what: str) -> None:
    if validator is None:
        return
    problems = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    if problems:
        detail = "; ".join(
            f"{'$' + ''.join(f'[{p!r}]' for p in e.absolute_path)}: {e.message}" for e in problems
        )
        raise SchemaViolation(f"{what} does not match its schema: {detail}")


def _is_error(record: StepRecord | None, kind: str) -> bool:
    """Whether ``record`` is a recorded failure of type ``kind``."""
    if record is None or record.status != "failed" or record.error is None:
        return False
    error = values.decode(record.error)
    return isinstance(error, dict) and error.get("type") == kind


def _as_async(fn: Callable[[], Any]) -> Callable[[], Coroutine[Any, Any, Any]]:
    async def call() -> Any:
        return fn()

    return call


async def _cancel(futures: dict[asyncio.Future[Any], Node]) -> None:
    for future in futures:
        future.cancel()
    if futures:
        await asyncio.gather(*futures, return_exceptions=True)


def _waits_for(node: Node) -> set[str]:
    """The sibling steps ``node`` starts after: those it depends on, and those it follows in
    turn."""
    return {*node.step.depends_on, *node.step.after}
