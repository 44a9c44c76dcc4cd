"""An event as every interface shows it, what emitting one did, and pages of events.

An event's document is also what runs see (the output of a step that waited for it, the event
beside a definition run's input): the store writes that document in the transaction that stores
the event (``plait.store.runs.event_for_runs``), and the resource is built from it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from plait.resources.base import Page, Resource, Stamp
from plait.store.records import EventRecord
from plait.store.runs import event_for_runs


class Event(Resource):
    """A stored event. ``source`` says who emitted it (``api``, ``cli``, ``action``,
    ``document``, ``webhook``, ``task``, ``workflow`` ...)."""

    id: str = Field(alias="$id")
    type: Literal["Event"] = Field("Event", alias="$type")
    event_type: str = Field(alias="type", description="e.g. ``Deal.won``.")
    data: Any = None
    source: str
    created_at: Stamp

    @classmethod
    def of(cls, record: EventRecord) -> Event:
        return cls.model_validate(event_for_runs(record))


class EmittedEvent(Event):
    """What emitting an event did: the event, the runs it started and whether it was a
    duplicate (an event id already stored: the first event, and no new run)."""

    runs: list[str] = Field(default_factory=list, description="Runs the event started.")
    duplicate: bool = Field(
        False,
        description="True for a delivery already received (a repeated event id, or a replay of "
        "signed content accepted within the replay window): the first delivery's event, and "
        "no new run.",
    )

    @classmethod
    def emitted(cls, record: EventRecord, runs: list[str], *, duplicate: bool) -> EmittedEvent:
        return cls.model_validate({**event_for_runs(record), "runs": runs, "duplicate": duplicate})


class EventPage(Page[Event]):
    """Events, newest first (the order they were stored), a page at a time."""
