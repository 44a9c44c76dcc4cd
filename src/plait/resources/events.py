"""An event as every interface shows it, what emitting one did, and pages of events.

An event's document is also what runs see (the output of a step that waited for it, the event
beside a definition run's input): the store writes that document in the transaction that stores
the event (``plait.store.runs.event_for_runs``); a test keeps the two equal.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import Field

from plait.resources.base import Page, Resource, required_stamp
from plait.store.records import EventRecord


class Event(Resource):
    """A stored event. ``source`` says who emitted it (``api``, ``cli``, ``action``,
    ``document``, ``webhook``, ``task``, ``workflow`` ...)."""

    id: str = Field(alias="$id")
    type: Literal["Event"] = Field("Event", alias="$type")
    event_type: str = Field(alias="type", description="e.g. ``Deal.won``.")
    data: Any = None
    source: str
    created_at: datetime

    @classmethod
    def of(cls, record: EventRecord) -> Event:
        return cls(**_fields(record))


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
        return cls(**_fields(record), runs=runs, duplicate=duplicate)


def _fields(record: EventRecord) -> dict[str, Any]:
    return {"id": record.id, "event_type": record.type, "data": orjson.loads(record.data),
            "source": record.source, "created_at": required_stamp(record.created_at)}  # fmt: skip


class EventPage(Page[Event]):
    """Events, newest first (the order they were stored), a page at a time."""
