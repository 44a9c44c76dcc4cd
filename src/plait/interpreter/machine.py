"""Run a state machine as a durable workflow: one run per instance, fed by its inbox.

The run enters the initial state (running its ``entry`` steps), then takes the events delivered
to its instance one at a time, in the order they were delivered. Each event consumed is recorded
as a step (``event``, ``event#2``...), so a replay sees the same events and takes the same
transitions; with no event waiting the run suspends (a row, no memory) until one is delivered or
the state's timeout is due. For each event:

- no transition for its name from the current state, or a ``guard`` that does not hold (or fails
  to evaluate): the event is recorded as ``rejected`` with the reason, and nothing changes;
- otherwise the current state's ``exit`` steps run, then the transition's ``actions``, then its
  ``assign`` (a template seeing ``output``, the last action's output) is merged into the
  machine's context; the transition is recorded; the target's ``entry`` steps run.

A state's ``timeout`` counts from when the state was entered (when the event that led to it
arrived, or the previous timeout fell due; the initial state, when the first event arrived),
whenever a worker processes it; when it passes with no event, its
``timeoutTransition`` is taken (event name ``timeout``). So it is when the next event arrived at or
after the deadline (a worker that comes late does not let a late event win): the timeout is
taken first and the event is then handled in the state the timeout led to (rejected there if that
state is terminal). A terminal state (or one with nowhere to
go) ends the run with the output ``{state, context, history}``, and with the state's ``outcome``:
``failed`` fails the run (``plait.MachineFailed``), ``cancelled`` cancels it, both keeping the
output.

A state's ``retry: {max_attempts, on}`` turns its event ``on`` into a re-entry of the state (a
transition to itself recorded with ``attempt``: exit steps, then entry steps again) while the
state has been entered fewer than ``max_attempts`` times in a row; then the event is handled as
any other. The count is rebuilt from the recorded transitions on every replay.

Records (step kinds): ``machine`` (the start: initial state and context), ``transition``
(``{from, to, event, type, eventId, at, context}``), ``rejected`` (``{state, event, type,
eventId, at, reason}``); ``plait.resources.runs.MachineView`` reads them back for the run
resource.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from plait import values
from plait.errors import LimitExceeded
from plait.expressions import EvaluationError, Expression, Template, compile_expression
from plait.expressions import compile_template as template_of
from plait.expressions.cost import cost_limit
from plait.interpreter.frame import Frame, truthy
from plait.interpreter.located import at_path
from plait.interpreter.plan import Node, Plan, _node
from plait.interpreter.run import Interpret, _Run
from plait.store.records import StepRecord, iso_time
from plait.store.runs import event_for_runs

if TYPE_CHECKING:
    from plait.actions.base import Actions
    from plait.definitions.model import Definition, Machine, MachineRetry, MachineTransition
    from plait.runtime.context import Context

TIMEOUT = "timeout"
"""The event name of a timeout transition in the history."""


@dataclass
class _Move:
    target: str
    guard: Expression | None
    actions: list[Node]
    assign: Template | None
    assign_path: str = "$"
    """Where ``assign`` is in the definition (its errors are recorded there)."""
    retry: bool = False
    """A re-entry of the state by its ``retry`` event (another attempt of the state)."""


@dataclass
class _State:
    name: str
    entry: list[Node]
    exit: list[Node]
    on: dict[str, _Move]
    timeout: float | None
    timeout_move: _Move | None
    final: bool
    outcome: str = "succeeded"
    retry: MachineRetry | None = None


@dataclass
class _Compiled:
    machine: Machine
    states: dict[str, _State]
    context: Template | None


def machine_interpreter(plan: Plan, actions: Actions, clients: dict[str, Any]) -> Interpret:
    """The workflow function of a state machine: ``async def f(ctx, input=None, event=None)``."""
    definition = plan.definition
    assert definition.machine is not None
    compiled = _compile(definition, definition.machine)

    async def machine(ctx: Context, input: Any = None, event: Any = None) -> Any:
        run = _Run(plan, actions, clients, {}, ctx, input, event)
        with cost_limit(ctx.settings.max_expression_cost):
            return await _Instance(compiled, run, ctx, input).execute()

    machine.__name__ = plan.name
    return machine


def _compile(definition: Definition, machine: Machine) -> _Compiled:
    def move(spec: MachineTransition) -> _Move:
        guard = None if spec.guard is None else compile_expression(spec.guard)
        assign = None if spec.assign is None else template_of(spec.assign)
        return _Move(spec.target, guard, [_node(s, definition) for s in spec.actions], assign,
                     f"{spec.path or '$'}.assign")  # fmt: skip

    states: dict[str, _State] = {}
    for name, state in machine.states.items():
        timeout_move = None if state.timeout_transition is None else move(state.timeout_transition)
        entry = [_node(s, definition) for s in state.entry]
        exit_ = [_node(s, definition) for s in state.exit]
        moves = {event: move(spec) for event, spec in state.on.items()}
        states[name] = _State(name, entry, exit_, moves, state.timeout, timeout_move, state.final,
                              state.outcome or "succeeded", state.retry)  # fmt: skip
    context = None if machine.context is None else template_of(machine.context)
    return _Compiled(machine, states, context)


class _Instance:
    """One replay of an instance's run."""

    def __init__(self, compiled: _Compiled, run: _Run, ctx: Context, input: Any) -> None:
        self.compiled = compiled
        self.run = run
        self.ctx = ctx
        self.input = input
        self.outputs: dict[str, Any] = {}
        self.history: list[dict[str, Any]] = []
        self.deferred = False
        """Whether the last timeout was taken ahead of an event that arrived too late."""
        self.attempt = 1
        """How many times in a row the current state was entered (its ``retry`` counts them);
        rebuilt by every replay from the recorded transitions, so it survives restarts."""

    async def execute(self) -> dict[str, Any]:
        start = self.ctx.recorded("machine", self._start, kind="machine")
        state = self.compiled.states[start["state"]]
        context, entered = start["context"], _stamp(start["at"])
        await self.steps(state.entry, state.name, context, None, start["at"])
        received = 0
        while not state.final:
            deadline = None if state.timeout is None else entered + state.timeout
            event = await self.next_event(received + 1, deadline)
            if event is not None:
                received += 1
            move = self.choose(state, context, event)
            if move is None:
                continue
            self.check_budget()
            context, state, entered = await self.take(state, move, context, event, deadline)
        if self.deferred:
            await self.reject_deferred(state, received + 1)
        output = {"state": state.name, "context": context, "history": self.history}
        self.end(state)
        return output

    def end(self, state: _State) -> None:
        """Tell the runtime the outcome of the terminal state the instance ended in: a
        ``failed`` state fails the run, a ``cancelled`` one cancels it (keeping the output)."""
        if state.outcome == "succeeded":
            return
        kind = "MachineFailed" if state.outcome == "failed" else "MachineCancelled"
        self.ctx.outcome = state.outcome
        self.ctx.ending = {
            "type": f"plait.{kind}", "state": state.name, "outcome": state.outcome,
            "message": f"the instance ended in state {state.name!r}, whose outcome is "
                       f"{state.outcome}",
        }  # fmt: skip

    def _start(self) -> dict[str, Any]:
        data = self.input
        if self.compiled.context is not None:
            event = self.run.event
            scope = {"input": data, "event": event, "data": (event or {}).get("data")}
            context = self.compiled.context.render(scope)
        else:
            context = data if isinstance(data, dict) else {}
        # The initial state is entered when the first event arrived (the instance's creation).
        at = (self.run.event or {}).get("createdAt") or iso_time(self.ctx.clock.time())
        return {"state": self.compiled.machine.initial, "context": context, "at": at}

    def check_budget(self) -> None:
        """Fail the run before a transition over ``machine_max_transitions`` (the count is
        of recorded transitions, so a replay fails at the same one)."""
        limit = self.ctx.settings.machine_max_transitions
        if len(self.history) >= limit:
            what = f"the number of transitions of state machine instance {self.ctx.run_id}"
            raise LimitExceeded(what, len(self.history) + 1, limit, "machine_max_transitions")

    # -- events ---------------------------------------------------------------------------------

    async def next_event(self, n: int, deadline: float | None) -> dict[str, Any] | None:
        """The ``n``-th event of the inbox (recorded once consumed); None when the state timed
        out first. Suspends the run while neither has happened.

        An event that arrived at or after the deadline came too late for this state: the
        timeout is taken (recorded as ``{"$type": "Timeout", "deferred": <event id>}``) and the
        event stays in the inbox for the next state."""
        ctx = self.ctx
        key, position, recorded = ctx.replay.next("event", "machine-event")
        if recorded is not None and recorded.status == "completed":
            return self._replayed(values.decode(recorded.output))
        arrived = await ctx.store.next_machine_event(ctx.run_id, n)
        now = ctx.clock.time()
        if arrived is None and (deadline is None or now < deadline):
            raise ctx.suspend(deadline)
        value: dict[str, Any] | None = None
        if arrived is not None and deadline is not None and arrived.created_at >= deadline:
            value = {"$type": "Timeout", "deferred": arrived.id}
        elif arrived is not None:
            value = event_for_runs(arrived)
        ctx.record_later(StepRecord(key, position, "event", "machine-event", "completed", 1,
                                    values.encode(value), None, now, now))  # fmt: skip
        return self._replayed(value)

    def _replayed(self, value: dict[str, Any] | None) -> dict[str, Any] | None:
        """The event a recorded ``machine-event`` step took (None: a timeout), noting whether a
        late event waits for the next state."""
        if value is not None and value.get("$type") == "Timeout":
            self.deferred = True
            return None
        self.deferred = False
        return value

    async def reject_deferred(self, state: _State, n: int) -> None:
        """The run ends in ``state``, which a late event's timeout led to: the event is taken
        and recorded as rejected (a terminal state takes no event)."""
        event = await self.next_event(n, None)
        if event is None:
            return
        name = self.compiled.machine.name_of(event["type"])
        reason = f"no transition for {name!r} from state {state.name!r}"
        if name in state.on:
            reason = f"state {state.name!r} is terminal and takes no event"
        self.reject(state, event, reason)

    def choose(self, state: _State, context: Any, event: dict[str, Any] | None) -> _Move | None:
        """The transition ``event`` takes from ``state``; None (recorded as rejected) if none."""
        if event is None:
            return state.timeout_move
        name = self.compiled.machine.name_of(event["type"])
        retry = state.retry
        if retry is not None and retry.on == name and self.attempt < retry.max_attempts:
            return _Move(state.name, None, [], None, retry=True)
        move = state.on.get(name)
        reason = None
        if move is None:
            reason = f"no transition for {name!r} from state {state.name!r}"
            if retry is not None and retry.on == name:
                reason += f" (its {retry.max_attempts} attempts are spent)"
        elif move.guard is not None:
            scope = self.scope(state.name, context, event, event["createdAt"])
            try:
                if not truthy(move.guard.evaluate(scope)):
                    reason = f"guard of {name!r} from state {state.name!r} refused the event: " \
                             f"{move.guard.source}"  # fmt: skip
            except EvaluationError as exc:
                reason = f"guard of {name!r} from state {state.name!r} failed: {exc}"
        if reason is None:
            return move
        self.reject(state, event, reason)
        return None

    def reject(self, state: _State, event: dict[str, Any], reason: str) -> None:
        """Record ``event`` as rejected in ``state``, with the reason; nothing else changes."""
        name = self.compiled.machine.name_of(event["type"])
        rejected = {"state": state.name, "event": name, "type": event["type"],
                    "eventId": event["$id"], "reason": reason}  # fmt: skip
        self.ctx.recorded("rejected", lambda: {**rejected, "at": iso_time(self.ctx.clock.time())},
                          kind="rejected")  # fmt: skip

    async def take(
        self, state: _State, move: _Move, context: Any, event: dict[str, Any] | None,
        deadline: float | None,
    ) -> tuple[Any, _State, float]:  # fmt: skip
        """Exit ``state``, run the transition's actions and assignment, record it, enter the
        target; return the new context, state and entry time."""
        now = event["createdAt"] if event is not None else iso_time(deadline or 0.0)
        await self.steps(state.exit, state.name, context, event, now)
        output = await self.steps(move.actions, state.name, context, event, now)
        if move.assign is not None:
            context = await self.assign(move, state.name, context, event, now, output)
        name = TIMEOUT if event is None else self.compiled.machine.name_of(event["type"])
        record = {"from": state.name, "to": move.target, "event": name,
                  "type": None if event is None else event["type"],
                  "eventId": None if event is None else event["$id"]}  # fmt: skip
        self.attempt = self.attempt + 1 if move.retry else 1
        if move.retry:
            record["attempt"] = self.attempt
        done = self.ctx.recorded(
            "transition", lambda: {**record, "at": iso_time(self.ctx.clock.time()),
                                   "context": context}, kind="transition",
        )  # fmt: skip
        self.history.append({k: v for k, v in done.items() if k != "context"})
        target = self.compiled.states[move.target]
        await self.steps(target.entry, target.name, context, event, now)
        # The target is entered when the event arrived (or the timeout fell due), not when a
        # worker got round to it: its own timeout counts from then.
        return context, target, _stamp(now)

    # -- steps ----------------------------------------------------------------------------------

    def scope(
        self, state: str, context: Any, event: dict[str, Any] | None, now: str
    ) -> dict[str, Any]:
        return {"input": self.input, "inputs": self.input, "event": event, "context": context,
                "state": state, "data": None if event is None else event.get("data"),
                "now": now}  # fmt: skip

    async def steps(
        self, nodes: list[Node], state: str, context: Any, event: dict[str, Any] | None,
        now: str,
    ) -> Any:  # fmt: skip
        """Run ``nodes`` in order (as the interpreter runs steps); the last one's output."""
        if not nodes:
            return None
        frame = Frame(self.scope(state, context, event, now), self.outputs)
        return await self.run.sequence(nodes, frame)

    async def assign(
        self, move: _Move, state: str, context: Any, event: dict[str, Any] | None,
        now: str, output: Any,
    ) -> Any:  # fmt: skip
        template = move.assign
        assert template is not None
        scope = {**self.scope(state, context, event, now), **self.outputs, "output": output}
        scope["steps"] = scope["results"] = self.outputs
        try:
            update = template.render(scope)
            if not isinstance(update, dict):
                raise EvaluationError("assign", f"expected an object, got {type(update).__name__}")
        except EvaluationError as exc:
            await self.run.fail(f"{state}.assign", exc, at_path(move.assign_path))
            raise  # unreachable: fail() raises StepFailed
        base = context if isinstance(context, dict) else {}
        return {**base, **update}


def _stamp(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()
