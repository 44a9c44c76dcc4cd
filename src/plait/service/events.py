"""Events: ``emit`` stores an event once per id and, in the same transaction, starts a run of
every Activated workflow whose trigger matches and resumes every run waiting for it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from plait import text, tracing, values
from plait.errors import (
    InvalidArguments,
    LimitExceeded,
    NotFound,
    PlaitError,
    SerializationError,
)
from plait.ids import new_id
from plait.secrets import redacted, redacted_json
from plait.service.audit import audited
from plait.service.idempotency import Request, once
from plait.service.pages import check_limit, keyset_after, keyset_slice
from plait.service.start_limits import definition_throttle, event_throttled
from plait.store.records import (
    Decision,
    EventRecord,
    RunToStart,
    TriggerCandidate,
    WaitCandidate,
    WorkflowRecord,
)
from plait.store.runs import event_for_runs

if TYPE_CHECKING:
    from plait.expressions import Expression
    from plait.resources.events import EmittedEvent, Event, EventPage
    from plait.service.deps import Deps
    from plait.service.machines import MachineService
    from plait.store.announcements import Announcement
    from plait.store.records import RunFlow
    from plait.workflow import FlowControl

log = logging.getLogger(__name__)


_UNANNOUNCED_KEYS = ("steps", "retryPolicy", "errorHandling", "timeout", "definition")
"""Fields of the workflow resource left out of its announcements (Workflow.triggered and
Workflow.finished are stored for every run): its definition, which GET /workflows/{id} shows."""


class EventService:
    """``engine.events``."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def emit(
        self,
        org: str,
        type: str,
        data: Any = None,
        *,
        id: str | None = None,
        source: str = "api",
        idempotency_key: str | None = None,
        run_id: str | None = None,
    ) -> EmittedEvent:
        """Store the event (once per id) and dispatch it; return it with the runs it started
        (``duplicate``: an event of that id was stored before: this one started nothing, and
        ``runs`` are the runs the stored one started). With ``idempotency_key`` a repeat
        answers what the first emit answered and emits nothing (``plait.service.idempotency``).
        """

        async def recall(kept: Any) -> EmittedEvent:
            from plait.resources.events import EmittedEvent  # the models load on first use

            return EmittedEvent.model_validate(kept)

        request = Request(f"events.emit {type}", {"type": type, "data": data, "id": id})
        # Audited only when an actor is set (an interface, ``engine.audit.acting``): runs and
        # hooks emit as themselves, and a plain ``engine.events.emit`` is a hot path.
        async with audited(self.deps, org, "emit", "event", str(id or "-")[:200],
                           optional=True) as change:  # fmt: skip
            change.details = {"type": str(type)[:200]}
            emitted = await once(self.deps, org, idempotency_key, request,
                                 lambda: self._emit(org, type, data, id, source, run_id),
                                 keep=lambda emitted: emitted.wire(), recall=recall)  # fmt: skip
            change.resource_id = emitted.id
            change.details.update(runsStarted=len(emitted.runs), duplicate=emitted.duplicate)
            return emitted

    async def _emit(
        self, org: str, type: str, data: Any, id: str | None, source: str,
        run_id: str | None = None,
    ) -> EmittedEvent:  # fmt: skip
        if not isinstance(type, str) or not type:
            raise SerializationError("an event's type", "str", "a non-empty string is required")
        text.check_all({"org": org, "type": type, "id": id})
        try:
            payload = values.encode({} if data is None else data)
        except TypeError as exc:
            raise SerializationError(
                "an event's data", values.offending_type(data), str(exc)
            ) from exc
        # Emitted by a run's step: none of the secrets it read, in the payload, type or id.
        payload, type = redacted_json(payload), redacted(type)
        id = None if id is None else redacted(id)
        store = await self.deps.store()
        now = self.deps.now()
        with tracing.emitting(org, type, source) as span:
            event, created, dispatched = await store.emit(org, type, payload, event_id=id,
                                                          source=source, now=now,
                                                          run_id=run_id)  # fmt: skip
            if span is not None:
                tracing.emitted(span, event.id, payload, len(dispatched.runs),
                                len(dispatched.resumed))  # fmt: skip
        if created:
            self._count(source, len(dispatched.runs), len(dispatched.resumed))
        from plait.resources.events import EmittedEvent  # the models load on first use

        return EmittedEvent.emitted(event, dispatched.runs, duplicate=not created)

    def _count(self, source: str, started: int, resumed: int) -> None:
        metrics = self.deps.metrics
        metrics.inc("plait_events_emitted_total", source)
        if started:
            metrics.inc("plait_event_runs_total", "started", by=started)
        if resumed:
            metrics.inc("plait_event_runs_total", "resumed", by=resumed)

    async def find(
        self,
        org: str,
        *,
        type: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> EventPage:
        """Events of ``org``, newest first (the order they were stored), a page at a time (keyset
        on the store's sequence, in SQL: every event is reachable)."""
        check_limit(limit)
        key = keyset_after(cursor, "events", (int,))
        after = None if key is None else int(key[0])
        store = await self.deps.store()
        rows = await store.page_events(org, type, after, limit + 1)
        shown, next_cursor = keyset_slice(rows, limit, "events", lambda row: [row[0]])
        from plait.resources.events import Event, EventPage

        return EventPage(items=[Event.of(row[1]) for row in shown], next_cursor=next_cursor)

    async def get(self, org: str, event_id: str) -> Event:
        """The event ``event_id`` of ``org``; ``NotFound`` if there is none."""
        event = await (await self.deps.store()).get_event(org, event_id)
        if event is None:
            raise NotFound(f"no event {event_id!r}")
        from plait.resources.events import Event

        return Event.of(event)


class Router:
    """The service rules the store applies to each new event, inside its transaction."""

    def __init__(self, deps: Deps, machines: MachineService) -> None:
        self.deps = deps
        self.machines = machines
        self._plans: dict[tuple[str, int], tuple[Expression | None, Expression | None, float]] = {}
        self._flows: dict[tuple[str, int], FlowControl | None] = {}

    def announce(self, workflow: WorkflowRecord) -> dict[str, Any]:
        """The workflow's document, for the ``Workflow.triggered`` or ``Workflow.finished``
        event of one of its runs (a code workflow's triggers are this process's)."""
        if workflow.kind == "code":
            code = self.deps.catalog.workflows.get(workflow.name)
            workflow.triggers = list(code.triggers) if code is not None else []
        from plait.resources.workflows import StoredWorkflow

        data = StoredWorkflow.of(workflow, workflow.triggers).wire()
        for key in _UNANNOUNCED_KEYS:  # what it is, not how it runs: announcements stay small
            data.pop(key, None)
        return data

    def committed(self, announcements: list[Announcement]) -> None:
        """A commit started or ended these runs: run this process's hooks."""
        self.deps.hooks.committed(announcements)

    def route(
        self, event: EventRecord, triggers: list[TriggerCandidate], waits: list[WaitCandidate]
    ) -> Decision:
        from plait.expressions.cost import cost_limit

        with cost_limit(self.deps.settings.max_expression_cost):
            return self._route(event, triggers, waits)

    def _route(
        self, event: EventRecord, triggers: list[TriggerCandidate], waits: list[WaitCandidate]
    ) -> Decision:
        decision = Decision()
        seen = event_for_runs(event)
        scope = {"event": seen, "data": seen["data"]}
        self._check_cost(event, self._expressions(event, triggers, waits, seen, scope))
        for trigger in triggers:
            if trigger.kind == "definition" and trigger.definition.get("machine"):
                delivery = self.machines.delivery(trigger, event, seen)
                if delivery is not None:
                    decision.deliveries.append(delivery)
                continue
            start = self._start(trigger, event, seen, scope)
            if start is not None:
                decision.starts.append(start)
        for wait in waits:
            if wait.match is None or self._holds(wait.match, {**(wait.scope or {}), "event": seen}):
                decision.resolves.append(wait)
        return decision

    def _check_cost(
        self, event: EventRecord, expressions: Iterator[tuple[Expression, dict[str, Any]]]
    ) -> None:
        """Refuse the event if the expressions its dispatch would evaluate cost more than
        ``max_expression_cost`` together: estimated before any is evaluated (one too costly by
        itself is not evaluated: it does not match, as ``_holds`` says)."""
        from plait.expressions import EvaluationTooCostly
        from plait.expressions.cost import SETTING, current_limit

        limit, total = current_limit(), 0
        for expression, scope in expressions:
            try:
                total += expression.estimate(scope, cost_limit=limit)
            except EvaluationTooCostly:
                continue
            if total > limit:
                what = "the estimated cost of the expressions this event's triggers and waits " \
                       "would evaluate"  # fmt: skip
                raise LimitExceeded(what, f"at least {total:,} units", f"{limit:,}", SETTING)

    def _expressions(
        self, event: EventRecord, triggers: list[TriggerCandidate], waits: list[WaitCandidate],
        seen: dict[str, Any], scope: dict[str, Any],
    ) -> Iterator[tuple[Expression, dict[str, Any]]]:  # fmt: skip
        """Each expression the dispatch of ``event`` may evaluate, with its scope: trigger
        filters and debounce keys, state machines' correlations, waits' matches."""
        from plait.expressions import ExpressionError, compile_expression

        local = {**scope, event.type.split(".", 1)[0].lower(): seen["data"]}
        for trigger in triggers:
            if trigger.kind != "definition":
                continue
            try:
                if trigger.definition.get("machine"):
                    yield self.machines.correlation(trigger), scope
                    continue
                filter_, key, _ = self._plan(trigger)
            except (ExpressionError, PlaitError):  # not evaluated either: see ``_start``
                continue
            yield from ((e, local) for e in (filter_, key) if e is not None)
        for wait in waits:
            if wait.match is not None:
                try:
                    matcher = compile_expression(wait.match)
                except ExpressionError:
                    continue
                yield matcher, {**(wait.scope or {}), "event": seen}

    def _start(
        self, trigger: TriggerCandidate, event: EventRecord, seen: dict[str, Any],
        scope: dict[str, Any],
    ) -> RunToStart | None:  # fmt: skip
        data = seen["data"]
        if trigger.kind == "code":
            workflow = self.deps.catalog.workflows.get(trigger.name)
            if workflow is None:
                return None
            flow = self._flow(trigger.name, workflow.flow, event, seen)
            flow = event_throttled(workflow.rate_limit, trigger.name, _input(seen), flow)
            debounce = None if flow is None else flow.debounce_key  # the decorator's debounce
            delay = workflow.flow.debounce_delay if debounce and workflow.flow else None
            return RunToStart(new_id("run"), trigger.workflow_id, trigger.name, None,
                              values.encode([data]), debounce, delay, flow=flow)  # fmt: skip
        from plait.expressions import EvaluationError, ExpressionError

        try:
            filter_, debounce_key, delay = self._plan(trigger)
        except ExpressionError as exc:  # stored before trigger options were checked when saved
            log.warning("trigger of %s does not compile (%s); no run started", trigger.name, exc)
            return None
        noun = event.type.split(".", 1)[0].lower()
        local = {**scope, noun: data}
        if filter_ is not None and not self._holds(filter_.source, local):
            return None
        key = None
        if debounce_key is not None:
            try:
                key = str(debounce_key.evaluate(local))
            except EvaluationError as exc:
                log.warning("debounce key of %s failed (%s); starting at once", trigger.name, exc)
        flow = self._flow(trigger.name, self._definition_flow(trigger), event, seen)
        rate = definition_throttle(trigger.workflow_id, trigger.version, trigger.definition)
        flow = event_throttled(rate, trigger.name, _input(seen), flow)
        return RunToStart(
            new_id("run"), trigger.workflow_id, trigger.name, trigger.version,
            values.encode([data, seen]), key, delay if key is not None else None, flow,
        )  # fmt: skip

    def _flow(
        self, name: str, control: FlowControl | None, event: EventRecord, seen: dict[str, Any]
    ) -> RunFlow | None:
        """The priority and concurrency key of a run ``event`` starts, its keys evaluated over
        the event's data (``input``, and its entity's name) and ``event``; a key that fails is
        logged and the run starts without flow control (as a failed debounce key)."""
        if control is None:
            return None
        from plait.service.concurrency import run_flow

        noun = event.type.split(".", 1)[0].lower()
        data = seen["data"]
        scope = {"input": data, "args": [data], "event": seen, noun: data}
        try:
            return run_flow(name, control, scope, event.created_at)
        except InvalidArguments as exc:
            log.warning("flow control of %s failed (%s); starting without it", name, exc)
            return None

    def _definition_flow(self, trigger: TriggerCandidate) -> FlowControl | None:
        key = (trigger.workflow_id, trigger.version)
        if key not in self._flows:
            from plait.definitions.flow import of
            from plait.definitions.model import Definition

            self._flows[key] = of(Definition.model_validate(trigger.definition))
        return self._flows[key]

    def _plan(
        self, trigger: TriggerCandidate
    ) -> tuple[Expression | None, Expression | None, float]:
        cached = self._plans.get((trigger.workflow_id, trigger.version))
        if cached is None:
            from plait.definitions.model import Definition
            from plait.expressions import compile_expression

            definition = Definition.model_validate(trigger.definition)
            spec = definition.trigger
            filter_ = compile_expression(spec.filter) if spec and spec.filter else None
            debounce = spec.debounce if spec else None
            key = compile_expression(debounce.key) if debounce else None
            cached = (filter_, key, debounce.delay if debounce else 0.0)
            self._plans[(trigger.workflow_id, trigger.version)] = cached
        return cached

    def _holds(self, expression: str, scope: dict[str, Any]) -> bool:
        from plait.expressions import EvaluationError, compile_expression
        from plait.interpreter.frame import truthy

        try:
            return truthy(compile_expression(expression).evaluate(scope))
        except EvaluationError as exc:
            log.warning("event filter %r failed (%s); treated as no match", expression, exc)
            return False


def _input(seen: dict[str, Any]) -> dict[str, Any]:
    """What a start throttle's key sees of the event that starts the run."""
    return {"input": seen["data"], "args": [seen["data"]], "event": seen}
