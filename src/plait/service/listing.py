"""Listings chosen in memory: filter resources by equality on any field as the wire shows it,
sort them by one, and cut a page after an opaque cursor (keyset: stable under inserts).

For the few resources an organization has tens of, not thousands (stored workflows); listings
of runs, events and tasks are keyset pages read from the database (``plait.service.pages``).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

import orjson

from plait.errors import InvalidQuery
from plait.resources.base import Resource
from plait.service.pages import check_limit

R = TypeVar("R", bound=Resource)


def select(
    items: Sequence[R],
    *,
    where: dict[str, Any] | None = None,
    sort: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
    default_sort: str = "createdAt",
) -> tuple[list[R], str | None]:
    """The items whose wire fields equal ``where``'s, sorted by the wire field ``sort``
    (``-field`` for descending; ties by ``$id``; times by their instant), the page after
    ``cursor``, and the next page's cursor (None on the last). ``InvalidQuery`` if ``sort``
    names a field holding objects (they have no order)."""
    check_limit(limit)
    field = (sort or default_sort).lstrip("-")
    descending = (sort or default_sort).startswith("-")
    keyed = [(_key(item, field), item) for item in items if _matches(item.wire(), where or {})]
    keyed.sort(key=lambda pair: pair[0], reverse=descending)
    if cursor is not None:
        after = _decode(cursor, field)
        try:
            keyed = [(k, item) for k, item in keyed if (k < after) == descending and k != after]
        except TypeError as exc:  # a forged cursor whose values do not compare with the items
            raise InvalidQuery("the cursor is not valid") from exc
    page = keyed[:limit]
    more = len(keyed) > limit and page
    return [item for _, item in page], (_encode(field, page[-1][0]) if more else None)


def _matches(item: dict[str, Any], where: dict[str, Any]) -> bool:
    return all(item.get(field) == value for field, value in where.items())


def _key(item: Resource, field: str) -> tuple[Any, ...]:
    data = item.model_dump(by_alias=True)
    value = data.get(field)
    if isinstance(value, datetime):
        value = value.timestamp()
    if not _sortable(value):
        raise InvalidQuery(f"cannot sort by {field!r}: it holds objects, not values")
    # None sorts first; mixed types sort by their type name, never raising
    return (value is not None, type(value).__name__, value if value is not None else 0,
            str(data.get("$id", "")))  # fmt: skip


def _sortable(value: Any) -> bool:
    """A value, or a list of strings (a workflow's trigger events): what compares in one order."""
    if isinstance(value, list):
        return all(isinstance(part, str) for part in value)
    return value is None or isinstance(value, str | int | float)


def _encode(field: str, key: tuple[Any, ...]) -> str:
    raw = orjson.dumps({"f": field, "k": list(key)})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, field: str) -> tuple[Any, ...]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = orjson.loads(raw)
        if data["f"] != field:
            raise InvalidQuery("the cursor belongs to a listing with another sort order")
        return tuple(data["k"])
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
        raise InvalidQuery("the cursor is not valid") from exc
