"""A state machine's instance as every interface shows it, pages of instances, and what sending
an event to an instance did."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from plait.resources.base import Page, Resource, Stamp, required_stamp
from plait.resources.runs import Run
from plait.store.records import DeliveryStatus
from plait.store.records import MachineInstance as InstanceRecord


class MachineInstance(Resource):
    """An instance of a state machine: the run of its correlation ``key``. Read one by one, it
    shows its current state, context, the transitions it took, the events it rejected and its
    run's output or error; a listing leaves those out (as run listings leave out steps)."""

    type: Literal["MachineInstance"] = Field("MachineInstance", alias="$type")
    workflow: str
    key: str = Field(description="The correlation key.")
    run_id: str
    status: str = Field(description="The status of the instance's run.")
    outcome: Literal["succeeded", "partial", "failed", "cancelled"] | None = Field(
        None,
        description="How the instance ended (null while it runs): the outcome of its terminal "
        "state (``succeeded`` unless the state declares ``failed`` or ``cancelled``), or "
        "``failed`` when its run failed.",
    )
    received: int = Field(description="How many events were delivered to the instance.")
    created_at: Stamp
    state: str | None = Field(None, description="The current state.")
    attempt: int | None = Field(
        None, description="How many times in a row the current state was entered (a state's "
        "``retry`` re-enters it).",
    )  # fmt: skip
    context: Any = None
    history: list[dict[str, Any]] = Field(
        default_factory=list, description="Transitions taken: from, to, event, type, eventId, at."
    )
    rejected: list[Any] = Field(
        default_factory=list, description="Events that changed nothing, with the reason."
    )
    output: Any = None
    error: dict[str, Any] | None = None

    @classmethod
    def of(cls, workflow: str, instance: InstanceRecord, run: Run | None = None) -> MachineInstance:
        """The instance of ``workflow``; with its ``run``, its state and history too."""
        fields: dict[str, Any] = {}
        if run is not None:
            view = run.machine
            fields = {"status": run.status, "output": run.output, "error": run.error,
                      "outcome": run.outcome}  # fmt: skip
            if view is not None:
                fields.update(state=view.state, context=view.context, history=view.history,
                              rejected=view.rejected, attempt=view.attempt)  # fmt: skip
        base = {"workflow": workflow, "key": instance.key, "run_id": instance.run_id,
                "status": instance.status, "received": instance.received,
                "outcome": instance.outcome,
                "created_at": required_stamp(instance.created_at)}  # fmt: skip
        return cls.model_validate({**base, **fields})


class MachineInstancePage(Page[MachineInstance]):
    """Instances of a state machine, oldest first, a page at a time."""


class SentEventRef(Resource):
    """The event sent: its id and type."""

    id: str = Field(alias="$id")
    event_type: str = Field(alias="type")


class SentEvent(Resource):
    """What sending an event to an instance did: ``outcome`` is ``created`` (a new instance),
    ``delivered``, or ``duplicate`` (that event id reached the instance before)."""

    workflow: str
    key: str
    run_id: str | None
    outcome: DeliveryStatus
    event: SentEventRef
