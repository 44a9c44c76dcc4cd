"""What live streams carry: a run's status transitions, its step changes and its progress, an
organization's events; each message with the cursor to resume after it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from plait.resources.base import Resource, Stamp
from plait.resources.events import Event
from plait.resources.progress import Progress

RunStatus = Literal["pending", "running", "waiting", "succeeded", "failed", "cancelled"]


class RunChange(Resource):
    """A run moved to another status (``outcome`` is set once it ended)."""

    type: Literal["RunChange"] = Field("RunChange", alias="$type")
    run_id: str
    workflow: str
    status: RunStatus
    outcome: Literal["succeeded", "partial", "failed", "cancelled"] | None = None
    at: Stamp | None = None


class StepChange(Resource):
    """A step of a run was recorded or moved: ``status`` completed, failed, retrying (the next
    attempt is due), waiting (a sleep, an event, a person) or skipped. The step's output and
    error are on the run (``GET /~{org}/runs/{id}``), not in the stream."""

    type: Literal["StepChange"] = Field("StepChange", alias="$type")
    run_id: str
    key: str = Field(description="The step's name and occurrence: ``charge``, ``charge#2``.")
    kind: str
    status: str
    attempts: int
    at: Stamp | None = None


class ProgressChange(Resource):
    """A run's progress moved: a step of its definition ended, or it reported progress."""

    type: Literal["ProgressChange"] = Field("ProgressChange", alias="$type")
    run_id: str
    progress: Progress


Payload = Annotated[RunChange | StepChange | ProgressChange | Event, Field(discriminator="type")]


class Change(Resource):
    """One message of a live stream: ``event`` is its type (``run``, ``step``, ``progress``,
    ``event``), ``id`` the cursor to resume after it (``Last-Event-ID``), ``data`` what
    changed."""

    id: str
    event: Literal["run", "step", "progress", "event"]
    data: Payload

    def sse(self) -> str:
        """The message as Server-Sent Events text."""
        import orjson

        data: Any = self.data.wire()
        return f"id: {self.id}\nevent: {self.event}\ndata: {orjson.dumps(data).decode()}\n\n"
