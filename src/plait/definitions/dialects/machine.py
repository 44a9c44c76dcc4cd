"""The state-machine dialect (briefs 002 and 003): states, the events that move between them, and
the steps run on the way.

    {"name": "order", "correlation": "event.data.orderId", "initial": "draft",
     "events": {"Order.submitted": "submit", "Order.paid": "pay"},
     "states": {
       "draft": {"on": {"submit": {"target": "pending", "guard": "size(event.data.items) > 0",
                                   "action": {"action": "emit", "mapping": {...}}}}},
       "pending": {"entry": {"action": "log", "mapping": {"message": "'waiting for payment'"}},
                   "on": {"pay": "processing", "cancel": "cancelled"},
                   "timeout": "2d", "timeoutTransition": "cancelled"},
       "cancelled": {"terminal": true}}}

``initialState`` is accepted for ``initial``; ``onEntry``/``onExit`` for ``entry``/``exit``;
``actions`` for ``action``. An action is an action name, one step (``{action, mapping}``,
``{function, input}``, brief 003's ``{type: emit, event}`` and ``{type: function, handler}``, or
any service-dialect step) or a list of them, run in order. ``events`` maps event types to the
names ``on`` uses; a type it does not map is its own name. ``start`` lists event types that create
an instance without being a transition. A terminal state may declare its ``outcome`` (``failed``,
``cancelled``); a state may ``retry: {maxAttempts, on}``. ``correlation`` is optional: without
it the machine listens to no bus event and its instances are addressed by key. Times are
milliseconds or strings with a unit (``"30s"``), as in the other dialects.

This module also holds the checks of a machine that :mod:`plait.definitions.validate` runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from plait.definitions.dialects import (
    Events,
    Normalised,
    PositiveMillis,
    RetrySource,
    Source,
    build,
    canonical,
    name,
    read,
    retry,
    seconds,
    show,
    template_condition,
)
from plait.definitions.dialects.entity import EntityStep
from plait.definitions.dialects.entity import _step as entity_step
from plait.definitions.dialects.service import _Reader
from plait.definitions.model import (
    ActionStep,
    Machine,
    MachineRetry,
    MachineState,
    MachineTransition,
    Step,
    Trigger,
)
from plait.definitions.validate import RESERVED, Findings, join
from plait.errors import LimitExceeded

if TYPE_CHECKING:
    from plait.definitions.validate import _Validation

MACHINE_NAMES = frozenset({"context", "state", "data"})
"""Names the steps of a machine see besides the usual ones: its context, state and event data."""
GUARD_NAMES = frozenset({"event", "data", "context", "state", "input", "now"})
CORRELATION_NAMES = frozenset({"event", "data"})
CONTEXT_NAMES = frozenset({"input", "event", "data"})


class TransitionSource(Source):
    """``{target, guard, action, assign}``."""

    target: str = Field(min_length=1)
    guard: str | None = None
    action: Any = None
    actions: Any = None
    assign: Any = None
    description: str | None = None


class StateRetrySource(Source):
    """A state's ``retry: {maxAttempts, on}`` (brief 003)."""

    max_attempts: int | None = Field(default=None, alias="maxAttempts", ge=1)
    on: str | None = Field(default=None, min_length=1)


class StateSource(Source):
    on: dict[str, Any] | None = None
    entry: Any = None
    on_entry: Any = Field(default=None, alias="onEntry")
    exit: Any = None
    on_exit: Any = Field(default=None, alias="onExit")
    timeout: PositiveMillis | None = None
    timeout_transition: Any = Field(default=None, alias="timeoutTransition")
    terminal: bool | None = None
    outcome: Literal["succeeded", "failed", "cancelled"] | None = None
    retry: StateRetrySource | None = None
    description: str | None = None


class EmitSource(Source):
    """The brief's ``{type: emit, event}`` entry or exit action: emit ``event`` with ``data``
    (a template; by default the machine's context)."""

    type: Literal["emit"]
    event: str = Field(min_length=1)
    data: Any = None
    id: str | None = Field(default=None, min_length=1)


class HandlerSource(Source):
    """The brief's ``{type: function, handler}`` entry or exit action: call the registered
    action ``handler`` with ``input`` (a template; by default the machine's context)."""

    type: Literal["function"]
    handler: str = Field(min_length=1)
    input: Any = None
    id: str | None = Field(default=None, min_length=1)


CONTEXT = "{{ context }}"
"""The template of the machine's context: what an emit or handler action gets by default."""


class MachineWorkflow(Source):
    name: str | None = None
    description: str | None = None
    dialect: Literal["machine"] | None = None
    type: Any = None
    subtype: Any = None
    initial: str | None = Field(default=None, min_length=1)
    initial_state: str | None = Field(default=None, alias="initialState", min_length=1)
    correlation: str | None = Field(default=None, min_length=1)
    events: dict[str, str] | None = None
    start: Events | None = None
    context: Any = None
    states: dict[str, Any]
    timeout: PositiveMillis | None = None
    retry_policy: RetrySource | None = Field(default=None, alias="retryPolicy")


def normalise(document: dict[str, Any], findings: Findings) -> Normalised:
    """Read a state-machine document into the canonical model."""
    if "machine" in document and "states" not in document:
        return canonical.normalise(document, findings)  # a dump of a normalised machine
    source = read(MachineWorkflow, document, "$", findings)
    if source is None:
        return Normalised(None)
    reader = _Actions(findings)
    states = {
        state: reader.state(raw, join(join("$", "states"), state), state)
        for state, raw in source.states.items()
    }
    initial, initial_path = _initial(source, findings)
    start = source.start
    machine = Machine(
        initial=initial, states=states or {"?": MachineState()},
        correlation=source.correlation, events=source.events or {},
        start=[start] if isinstance(start, str) else list(start or []), context=source.context,
    )  # fmt: skip
    # Without a correlation no bus event can name its instance: the machine listens to none.
    listens = machine.listens_to() if machine.correlation is not None else []
    definition = build(findings, {
        "name": name(source.name, "$.name", findings),
        "description": source.description,
        "dialect": "machine",
        "trigger": Trigger(events=listens),
        "machine": machine,
        "retry": retry(source.retry_policy),
        "timeout": seconds(source.timeout),
        "metadata": {k: v for k, v in (("type", source.type), ("subtype", source.subtype))
                     if v is not None},
    })  # fmt: skip
    sources = {"retry": "$.retryPolicy", "machine.initial": initial_path}
    return Normalised(definition, sources, reader.unreadable)


def _initial(source: MachineWorkflow, findings: Findings) -> tuple[str, str]:
    if source.initial is not None and source.initial_state is not None:
        findings.error("$.initialState", "give 'initial' or 'initialState', not both")
    if source.initial is not None:
        return source.initial, "$.initial"
    if source.initial_state is not None:
        return source.initial_state, "$.initialState"
    findings.error("$.initial", "required key 'initial' is missing: the state a new instance "
                   "starts in (also accepted as 'initialState')")  # fmt: skip
    return "?", "$.initial"


class _Actions:
    """Reads states, transitions and the steps they run."""

    def __init__(self, findings: Findings) -> None:
        self.findings = findings
        self.steps = _Reader(findings)
        self.known = set(RESERVED | MACHINE_NAMES)

    @property
    def unreadable(self) -> set[str]:
        return self.steps.unreadable

    def state(self, raw: Any, path: str, state: str) -> MachineState:
        raw = _yaml11(raw)  # YAML 1.1 reads the key `on` as true
        if isinstance(raw, dict) and isinstance(raw.get("retry"), dict):
            raw = {**raw, "retry": _yaml11(raw["retry"])}
        item = read(StateSource, raw if raw is not None else {}, path, self.findings)
        if item is None:
            return MachineState(path=path)
        moves = {
            event: self.transition(value, join(join(path, "on"), event), f"{state}.{event}")
            for event, value in (item.on or {}).items()
        }
        timeout_move = None
        if item.timeout_transition is not None:
            where = join(path, "timeoutTransition")
            timeout_move = self.transition(item.timeout_transition, where, f"{state}.timeout")
        return MachineState(
            on={event: move for event, move in moves.items() if move is not None},
            entry=self.actions(self.either(item.entry, item.on_entry, path, "entry"),
                               join(path, "entry" if item.entry else "onEntry"),
                               f"{state}.entry"),
            exit=self.actions(self.either(item.exit, item.on_exit, path, "exit"),
                              join(path, "exit" if item.exit else "onExit"), f"{state}.exit"),
            timeout=seconds(item.timeout), timeout_transition=timeout_move,
            terminal=bool(item.terminal), outcome=item.outcome, path=path,
            retry=self.retry(item.retry, (raw or {}).get("retry"), join(path, "retry")),
        )  # fmt: skip

    def retry(self, item: StateRetrySource | None, raw: Any, path: str) -> MachineRetry | None:
        """A state's ``retry`` (reported where a half is missing; a wrong one is dropped)."""
        if item is None:
            return None
        for key, value in (("maxAttempts", item.max_attempts), ("on", item.on)):
            if value is None and key not in raw:
                self.findings.error(join(path, key), f"required key {key!r} is missing")
        if item.max_attempts is None or item.on is None:
            return None
        return MachineRetry(max_attempts=item.max_attempts, on=item.on)

    def either(self, value: Any, alias: Any, path: str, key: str) -> Any:
        if value is not None and alias is not None:
            other = "on" + key.capitalize()
            self.findings.error(join(path, other), f"give {key!r} or {other!r}, not both")
        return value if value is not None else alias

    def transition(self, value: Any, path: str, step_id: str) -> MachineTransition | None:
        if isinstance(value, str) and value:
            return MachineTransition(target=value, path=path, sources={"target": ""})
        if not isinstance(value, dict):
            self.findings.error(path, f"expected a target state or an object with 'target', "
                                f"got {show(value)}")  # fmt: skip
            return None
        item = read(TransitionSource, value, path, self.findings)
        if item is None:
            return None
        if item.action is not None and item.actions is not None:
            self.findings.error(join(path, "actions"), "give 'action' or 'actions', not both")
        key = "action" if item.action is not None else "actions"
        return MachineTransition(
            target=item.target, guard=template_condition(item.guard),
            actions=self.actions(item.action if item.action is not None else item.actions,
                                 join(path, key), step_id),
            assign=item.assign, path=path,
        )  # fmt: skip

    def actions(self, value: Any, path: str, step_id: str) -> list[Step]:
        """An action name, one step, or a list of them (ids ``<step_id>``, ``<step_id>-2``...)."""
        if value is None:
            return []
        if isinstance(value, list):
            return [self.one(item, join(path, i), f"{step_id}-{i + 1}" if i else step_id)
                    for i, item in enumerate(value)]  # fmt: skip
        return [self.one(value, path, step_id)]

    def one(self, value: Any, path: str, step_id: str) -> Step:
        if isinstance(value, str) and value:
            return ActionStep(id=step_id, action=value, path=path, sources={"action": ""})
        if isinstance(value, dict) and (value.get("type") == "emit" or (
                value.get("type") == "function" and "handler" in value)):  # fmt: skip
            return self.brief_action(value, path, step_id)
        if isinstance(value, dict) and "mapping" in value:
            item = read(EntityStep, value, path, self.findings)
            if item is not None:
                step = entity_step(item, 0, path, self.known, self.findings)
                step.id = item.id or item.name or step_id
                return step
        return self.steps.step(value, path, step_id)

    def brief_action(self, value: dict[str, Any], path: str, step_id: str) -> Step:
        """``{type: emit, event, data?}`` or ``{type: function, handler, input?}``: an action
        step that emits the event, or calls the registered action, with the machine's context
        (or the given template)."""
        if value["type"] == "emit":
            emit = read(EmitSource, value, path, self.findings)
            if emit is None:
                return ActionStep(id=step_id, action="emit", path=path)
            data = CONTEXT if emit.data is None else emit.data
            return ActionStep(id=emit.id or step_id, action="emit", path=path,
                              input={"type": emit.event, "data": data},
                              sources={"input": ""})  # fmt: skip
        handler = read(HandlerSource, value, path, self.findings)
        if handler is None:
            return ActionStep(id=step_id, action="?", path=path)
        return ActionStep(id=handler.id or step_id, action=handler.handler, path=path,
                          input=CONTEXT if handler.input is None else handler.input,
                          sources={"action": "handler"})  # fmt: skip


def _yaml11(raw: Any) -> Any:
    """``raw`` with a key ``true`` read as ``on`` (YAML 1.1 spells ``on:`` as a boolean)."""
    if isinstance(raw, dict) and True in raw and "on" not in raw:
        return {("on" if k is True else k): v for k, v in raw.items()}
    return raw


# -- checks (run by plait.definitions.validate) --------------------------------------------------


def check_machine(validation: _Validation, machine: Machine) -> None:
    """Report every problem of ``machine``: unknown or unreachable states, timeouts without a
    transition or shorter than ``machine_min_timeout_seconds``, expressions that do not
    compile, events nothing handles; and warn when no terminal state can be reached."""
    findings = validation.findings
    initial_at = validation.sources.get("machine.initial", "$.initial")
    if machine.initial not in machine.states and machine.initial != "?":
        hint = findings.hint(machine.initial, machine.states)
        findings.error(initial_at, f"unknown state {machine.initial!r}{hint}")
    validation.expression(machine.correlation, "$.correlation", CORRELATION_NAMES)
    validation.template(machine.context, "$.context", CONTEXT_NAMES)
    known = set(validation.known | MACHINE_NAMES)
    for state_name, state in machine.states.items():
        _check_state(validation, machine, state_name, state, known)
        validation.check_expressions([*state.entry, *state.exit], known)
    _check_reachable(validation, machine)
    _check_events(validation, machine, initial_at)


def _check_state(
    validation: _Validation, machine: Machine, name: str, state: MachineState, known: set[str]
) -> None:
    findings = validation.findings
    if state.timeout is not None and state.timeout_transition is None:
        findings.error(join(state.path, "timeout"), f"state {name!r} has a timeout but no "
                       "'timeoutTransition' saying where it leads")  # fmt: skip
    _check_timeout_floor(validation, name, state)
    if state.timeout_transition is not None and state.timeout is None:
        findings.error(join(state.path, "timeoutTransition"),
                       f"state {name!r} has a timeoutTransition but no 'timeout'")  # fmt: skip
    if state.terminal and state.on:
        findings.warn(join(state.path, "on"),
                      f"state {name!r} is terminal: its transitions are never taken")  # fmt: skip
    _check_ending(validation, name, state)
    moves = list(state.on.values())
    if state.timeout_transition is not None:
        moves.append(state.timeout_transition)
    for move in moves:
        where = move.path if move.sources.get("target") == "" else join(move.path, "target")
        if move.target not in machine.states:
            hint = findings.hint(move.target, machine.states)
            findings.error(where, f"unknown target state {move.target!r}{hint}")
        validation.expression(move.guard, join(move.path, "guard"), GUARD_NAMES)
        validation.check_expressions(move.actions, known)
        validation.template(move.assign, join(move.path, "assign"), known | {"output"})


def _check_ending(validation: _Validation, name: str, state: MachineState) -> None:
    """An ``outcome`` belongs to a state that ends the instance; a ``retry`` to one that does
    not, and its event should have a transition to take once the attempts are spent."""
    findings = validation.findings
    if state.outcome is not None and not state.final:
        findings.error(join(state.path, "outcome"), f"state {name!r} is not terminal, so "
                       "its outcome is never reached: add 'terminal: true' or remove "
                       "'outcome'")  # fmt: skip
    retry = state.retry
    if retry is None:
        return
    if state.final:
        findings.error(join(state.path, "retry"), f"state {name!r} ends the instance: it takes "
                       "no event to retry on")  # fmt: skip
    elif retry.on not in state.on:
        findings.warn(join(join(state.path, "retry"), "on"), f"state {name!r} has no transition "
                      f"for {retry.on!r}: once its {retry.max_attempts} attempts are spent the "
                      "event is rejected and the instance stays in the state")  # fmt: skip


def _check_reachable(validation: _Validation, machine: Machine) -> None:
    seen = {machine.initial}
    frontier = [machine.initial]
    while frontier:
        state = machine.states.get(frontier.pop())
        if state is None:
            continue
        moves = [*state.on.values(), state.timeout_transition]
        for target in (m.target for m in moves if m is not None):
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    if machine.initial not in machine.states:
        return
    for state_name, state in machine.states.items():
        if state_name not in seen:
            validation.findings.error(state.path, f"state {state_name!r} is unreachable from "
                                      f"the initial state {machine.initial!r}")  # fmt: skip
    if not any(machine.states[reached].final for reached in seen if reached in machine.states):
        where = validation.sources.get("machine.initial", "$.initial")
        limit = validation.settings.machine_max_transitions
        validation.findings.warn(where, f"no terminal state can be reached from the initial "
                                 f"state {machine.initial!r}: an instance never ends by itself; "
                                 f"it runs until cancelled or until it fails after {limit} "
                                 "transitions (setting machine_max_transitions)")  # fmt: skip


def _check_timeout_floor(validation: _Validation, name: str, state: MachineState) -> None:
    """A state's timeout may not be shorter than ``machine_min_timeout_seconds`` (a machine that
    times out every millisecond makes a thousand transitions a second)."""
    floor = validation.settings.machine_min_timeout_seconds
    if state.timeout is None or state.timeout >= floor:
        return
    refused = LimitExceeded(f"the timeout of state {name!r}", f"{state.timeout:g}s",
                            f"a minimum of {floor:g}s", "machine_min_timeout_seconds")  # fmt: skip
    validation.findings.error(join(state.path, "timeout"), str(refused))


def _check_events(validation: _Validation, machine: Machine, initial_at: str) -> None:
    handled = {event for state in machine.states.values() for event in state.on}
    for event_type, event_name in machine.events.items():
        if event_name not in handled:
            validation.findings.warn(join("$.events", event_type), f"event {event_name!r} "
                                     "has no transition in any state")  # fmt: skip
    initial = machine.states.get(machine.initial)
    if initial is not None and not initial.on and not machine.start:
        validation.findings.error(initial_at, "no event can create an instance: the initial "
                                  "state has no transitions and 'start' is empty")  # fmt: skip
