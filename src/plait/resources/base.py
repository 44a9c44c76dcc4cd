"""What every resource model shares: snake_case attributes in Python, the brief's camelCase on
the wire, ``$id`` and ``$type`` for a resource's id and type, and pages of them.

A resource is built from store records in its own module (``Run.of(record)``), once; the service
layer returns resources, and every interface renders them with :meth:`Resource.wire` (the REST
API, the CLI's ``--json``, and next the console and the MCP server), so there is one shape.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema
from pydantic.alias_generators import to_camel

from plait.store.records import iso_time


def wire_time(at: datetime) -> str:
    """``at`` as every time plait writes or shows: ISO 8601 in UTC with milliseconds and ``Z``
    (``2027-01-15T08:00:00.000Z``), so that times compare as strings too."""
    return iso_time(at.timestamp())


Stamp = Annotated[
    datetime,
    PlainSerializer(wire_time, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""A resource's time: a datetime in Python, :func:`wire_time` on the wire."""


class Resource(BaseModel):
    """Base of every resource model (frozen: a resource is what was read, not a handle)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid",
        serialize_by_alias=True, defer_build=True,
    )  # fmt: skip
    """``defer_build``: a model's validator and serializer are built when it is first used, not
    when the engine is built (an engine that only runs code workflows never pays for them)."""

    def wire(self) -> dict[str, Any]:
        """The resource as JSON-ready camelCase data: what the API answers and ``--json`` prints."""
        return self.model_dump(mode="json", by_alias=True)


T = TypeVar("T")


class Page(Resource, Generic[T]):
    """Some items and the cursor of the next page (``None`` on the last)."""

    items: list[T]
    next_cursor: str | None = Field(None, description="Pass as ``cursor`` for the next page.")


class Deleted(Resource):
    """What deleting (or revoking) a resource did: its id and type, gone."""

    id: str = Field(alias="$id")
    type: str = Field(alias="$type", description="The type of the resource deleted.")
    deleted: Literal[True] = True


def stamp(seconds: float | None) -> datetime | None:
    """Unix seconds as an aware UTC datetime (``None`` stays ``None``)."""
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def required_stamp(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
