"""State machines: instances, each a run keyed by its correlation key, and the inbox of events
delivered to it.

Delivery happens inside the transaction that stores the event (or, for a direct send, in a
transaction of its own): the instance's row is updated to number the event, which serialises
deliveries to one instance on both backends, so the run consumes its inbox in commit order and
exactly once (it records each event it consumes as a step).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from plait.store.backend import Backend
from plait.store.records import (
    DeliveryStatus,
    EventRecord,
    MachineDelivery,
    MachineEvent,
    MachineInstance,
)
from plait.store.runs import insert_started_run
from plait.store.session import Session


class MachineVerbs(Backend):
    """State-machine instances: routing events to the run of their correlation key."""

    async def send_to_machine(
        self, event: EventRecord, delivery: MachineDelivery
    ) -> tuple[DeliveryStatus, str | None]:
        """Deliver ``event`` to one instance (creating it if ``delivery.start`` allows), in one
        transaction; return the outcome and the instance's run id (None when unknown)."""

        def op(db: Session) -> tuple[DeliveryStatus, str | None]:
            return deliver_machine_event(db, event, delivery)

        result: tuple[DeliveryStatus, str | None] = await self._submit(op)
        return result

    async def get_machine_instance(
        self, org: str, workflow_id: str, key: str
    ) -> MachineInstance | None:
        """The instance of ``key``, or None."""
        params = {"org": org, "workflow_id": workflow_id, "key": key}
        row = await self._one("machine_instance", params)
        return None if row is None else _instance(row)

    async def machine_instance_of_run(self, run_id: str) -> MachineInstance | None:
        """The instance whose run is ``run_id``, or None (not a state-machine run)."""
        row = await self._one("machine_instance_of_run", {"run_id": run_id})
        return None if row is None else _instance(row)

    async def list_machine_instances(
        self, org: str, workflow_id: str, limit: int, after: tuple[float, str] | None = None
    ) -> list[MachineInstance]:
        """Instances of a workflow, oldest first, after the keyset ``(created_at, key)`` of the
        previous page's last instance."""
        params = {"org": org, "workflow_id": workflow_id, "limit": limit,
                  "after_at": after[0] if after else None,
                  "after_key": after[1] if after else None}  # fmt: skip
        return [_instance(row) for row in await self._all("machine_instances_of_workflow", params)]

    async def next_machine_event(self, run_id: str, n: int) -> MachineEvent | None:
        """The ``n``-th event delivered to the instance whose run is ``run_id``, if it arrived."""
        row = await self._one("machine_inbox_event", {"run_id": run_id, "n": n})
        if row is None:
            return None
        data = row[2].encode() if isinstance(row[2], str) else bytes(row[2])
        return MachineEvent(n, row[0], row[1], data, row[3], float(row[4]))


def deliver_machine_event(
    db: Session, event: EventRecord, delivery: MachineDelivery
) -> tuple[DeliveryStatus, str | None]:
    """Inside the transaction that stores ``event`` (or of a direct send): deliver it to one
    instance, creating the instance if ``delivery.start`` allows; return what happened and the
    instance's run id (None when unknown)."""
    ident = {"org": event.org, "workflow_id": delivery.workflow_id, "key": delivery.key}
    for _ in range(2):  # a concurrent creator (another process) wins: deliver to its run
        counted = db.run("machine_count_event", ident).fetchone()
        if counted is not None:
            return _append(db, ident, event, counted)
        row = db.run("machine_instance", ident).fetchone()
        if row is not None:
            return "ended", str(row[0])
        start = delivery.start
        if start is None:
            return "unknown", None
        created = {**ident, "run_id": start.run_id, "now": event.created_at}
        if db.run("machine_insert_instance", created).rowcount == 1:
            insert_started_run(db, event, start, "pending", None)
            db.runnable = True
            if delivery.inbox:
                _append(db, ident, event, db.run("machine_count_event", ident).fetchone())
            return "created", start.run_id
    return "unknown", None


def _append(
    db: Session, ident: dict[str, Any], event: EventRecord, counted: Sequence[Any]
) -> tuple[DeliveryStatus, str | None]:
    run_id, n = str(counted[0]), int(counted[1])
    inserted = db.run("machine_insert_inbox", {
        "run_id": run_id, "n": n, "event_id": event.id, "type": event.type,
        "data": event.data.decode(), "source": event.source, "now": event.created_at,
    }).rowcount  # fmt: skip
    if not inserted:  # that event id reached the instance before; the row is still ours
        db.run("machine_uncount_event", ident)
        return "duplicate", run_id
    db.run("machine_wake_run", {"run_id": run_id, "now": event.created_at})
    db.runnable = True
    return "delivered", run_id


def _instance(row: Sequence[Any]) -> MachineInstance:
    return MachineInstance(str(row[5]), str(row[4]), str(row[0]), str(row[1]), int(row[2]),
                           float(row[3]), None if row[6] is None else str(row[6]))  # fmt: skip
