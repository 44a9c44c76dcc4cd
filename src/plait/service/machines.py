"""State machines: routing events to instances, sending an event to one instance, instances.

An instance is a run of a state-machine workflow, keyed by the machine's ``correlation``
expression evaluated on the event that created it. An event on the bus whose type the machine
listens to is routed (inside the transaction that stores it) to the instance of its key; if
there is none and the event can create one (it has a transition from the initial state, or its
type is listed in ``start``), a new instance starts. Otherwise it is not routed: the bus is
shared. :meth:`MachineService.send` addresses one instance directly and says when it cannot; a
machine without a correlation is reached only that way (its instances are keyed by the caller).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from plait import values
from plait.errors import (
    InstanceEnded,
    InstanceNotFound,
    NotAStateMachine,
    NotFound,
    SerializationError,
    WorkflowNotActive,
    WorkflowNotFound,
)
from plait.ids import new_id
from plait.service.audit import audited
from plait.service.pages import check_limit, keyset_after, keyset_slice
from plait.store.records import EventRecord, MachineDelivery, RunToStart, TriggerCandidate
from plait.store.runs import event_for_runs

if TYPE_CHECKING:
    from plait.definitions.model import Machine
    from plait.expressions import Expression
    from plait.resources.machines import (
        MachineInstance,
        MachineInstancePage,
        SentEvent,
    )
    from plait.service.deps import Deps
    from plait.service.runs import RunService
    from plait.store.records import WorkflowRecord

log = logging.getLogger(__name__)


class MachineService:
    """``engine.machines``."""

    def __init__(self, deps: Deps, runs: RunService) -> None:
        self.deps = deps
        self.runs = runs
        self._machines: dict[tuple[str, int], tuple[Machine, Expression]] = {}

    # -- routing (inside the event's transaction: no I/O) ---------------------------------------

    def delivery(
        self, trigger: TriggerCandidate, event: EventRecord, seen: dict[str, Any]
    ) -> MachineDelivery | None:
        """Where an event on the bus goes for the machine ``trigger``: the instance of its key
        (created if the event can create it); None when the key does not evaluate."""
        from plait.expressions import EvaluationError

        machine, correlation = self._compiled(trigger.workflow_id, trigger.version,
                                              trigger.definition)  # fmt: skip
        if machine.correlation is None:  # its instances are addressed by key only
            return None
        try:
            key = correlation.evaluate({"event": seen, "data": seen["data"]})
        except EvaluationError as exc:
            log.warning("correlation of %s failed on event %s (%s); not routed",
                        trigger.name, event.id, exc)  # fmt: skip
            return None
        if key is None or isinstance(key, dict | list):
            log.warning("correlation of %s gave no usable key for event %s; not routed",
                        trigger.name, event.id)  # fmt: skip
            return None
        return self._delivery(machine, trigger.workflow_id, trigger.name, trigger.version,
                              str(key), event.type, seen)  # fmt: skip

    def correlation(self, trigger: TriggerCandidate) -> Expression:
        """The correlation expression of the machine ``trigger`` (compiled once per version)."""
        return self._compiled(trigger.workflow_id, trigger.version, trigger.definition)[1]

    def _delivery(
        self, machine: Machine, workflow_id: str, name: str, version: int, key: str,
        event_type: str, seen: dict[str, Any],
    ) -> MachineDelivery:  # fmt: skip
        start = None
        if machine.can_start(event_type):
            start = RunToStart(new_id("run"), workflow_id, name, version,
                               values.encode([seen["data"], seen]))  # fmt: skip
        return MachineDelivery(workflow_id, key, start, inbox=event_type not in machine.start)

    def _compiled(
        self, workflow_id: str, version: int, definition: dict[str, Any]
    ) -> tuple[Machine, Expression]:
        cached = self._machines.get((workflow_id, version))
        if cached is None:
            from plait.definitions.model import Definition
            from plait.expressions import compile_expression

            machine = Definition.model_validate(definition).machine
            if machine is None:
                raise NotAStateMachine(workflow_id)
            # No correlation: "null", a key that routes nothing (see ``delivery``).
            cached = (machine, compile_expression(machine.correlation or "null"))
            self._machines[(workflow_id, version)] = cached
        return cached

    # -- verbs ----------------------------------------------------------------------------------

    async def send(
        self, org: str, workflow: str, key: str, type: str, data: Any = None, *,
        id: str | None = None,
    ) -> SentEvent:  # fmt: skip
        """Send an event to the instance ``key`` of the state machine ``workflow``.

        The instance is created if it does not exist and the event can create it. The event is
        taken (or rejected, with the reason, in the run's history) when the run processes it,
        in the order events reached the instance. An event id already delivered to the
        instance is not delivered again (``"outcome": "duplicate"``).

        Raises:
            WorkflowNotFound, NotAStateMachine, WorkflowNotActive: no such running machine.
            InstanceNotFound: no instance has ``key`` and this event cannot create one.
            InstanceEnded: the instance's run has ended.

        Audited (``send`` of the ``instance`` ``workflow/key``) when an actor is set, as an
        emitted event is.
        """
        instance = f"{workflow}/{key}"[:200]
        async with audited(self.deps, org, "send", "instance", instance,
                           optional=True) as change:  # fmt: skip
            change.details = {"type": str(type)[:200]}
            sent = await self._send(org, workflow, key, type, data, id)
            change.run = sent.run_id
            change.details.update(event=sent.event.id, outcome=sent.outcome)
            return sent

    async def _send(
        self, org: str, workflow: str, key: str, type: str, data: Any, id: str | None
    ) -> SentEvent:
        if not isinstance(type, str) or not type:
            raise SerializationError("an event's type", "str", "a non-empty string is required")
        try:
            payload = values.encode({} if data is None else data)
        except TypeError as exc:
            raise SerializationError("an event's data", values.offending_type(data),
                                     str(exc)) from exc  # fmt: skip
        record, machine = await self._machine(org, workflow)
        if record.status != "Activated":
            raise WorkflowNotActive(record.name, record.status)
        now = self.deps.now()
        event = EventRecord(id or new_id("event"), org, type, payload, "api", None, now)
        delivery = self._delivery(machine, record.id, record.name, record.version, key, type,
                                  event_for_runs(event))  # fmt: skip
        store = await self.deps.store()
        outcome, run_id = await store.send_to_machine(event, delivery)
        if outcome == "unknown":
            raise InstanceNotFound(record.name, key, type)
        if outcome == "ended":
            instance = await store.get_machine_instance(org, record.id, key)
            assert instance is not None and run_id is not None
            raise InstanceEnded(record.name, key, run_id, instance.status)
        self.deps.local.wake()
        from plait.resources.machines import SentEvent, SentEventRef  # loaded on first use

        return SentEvent(workflow=record.name, key=key, run_id=run_id, outcome=outcome,
                         event=SentEventRef(id=event.id, event_type=type))  # fmt: skip

    async def get(self, org: str, workflow: str, key: str) -> MachineInstance:
        """The instance ``key``: its run's status, current state, context, history and
        rejected events. Raises ``NotFound`` if there is none."""
        record, _ = await self._machine(org, workflow)
        store = await self.deps.store()
        instance = await store.get_machine_instance(org, record.id, key)
        if instance is None:
            raise NotFound(f"no instance {key!r} of state machine {record.name!r}")
        from plait.resources.machines import MachineInstance

        return MachineInstance.of(record.name, instance, await self.runs.get(org, instance.run_id))

    async def find(
        self, org: str, workflow: str, *, limit: int = 100, cursor: str | None = None
    ) -> MachineInstancePage:
        """Instances of the machine, oldest first (without their state and history), a page at
        a time; the cursor holds the keyset ``(created_at, key)`` of the page's last instance."""
        check_limit(limit)
        after = keyset_after(cursor, "instances", (float, str))
        record, _ = await self._machine(org, workflow)
        store = await self.deps.store()
        keyset = None if after is None else (after[0], after[1])
        rows = await store.list_machine_instances(org, record.id, limit + 1, keyset)
        shown, next_cursor = keyset_slice(
            rows, limit, "instances", lambda row: [row.created_at, row.key]
        )
        from plait.resources.machines import MachineInstance, MachineInstancePage

        items = [MachineInstance.of(record.name, instance) for instance in shown]
        return MachineInstancePage(items=items, next_cursor=next_cursor)

    async def _machine(self, org: str, workflow: str) -> tuple[WorkflowRecord, Machine]:
        store = await self.deps.store()
        record = await store.get_workflow(org, workflow)
        if record is None:
            raise WorkflowNotFound(workflow)
        version = None
        if record.kind == "definition":
            version = await store.get_workflow_version(org, record.id, record.version)
        if version is None or not version.definition.get("machine"):
            raise NotAStateMachine(record.name)
        machine, _ = self._compiled(record.id, record.version, version.definition)
        return record, machine
