"""Pages of resources: ``limit`` items after an opaque cursor, in a stable order."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

from plait.errors import InvalidQuery

MAX_LIMIT = 1000
R = TypeVar("R")


@dataclass(frozen=True)
class Page:
    """Some items and the cursor of the next page (None on the last)."""

    items: list[dict[str, Any]]
    next_cursor: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"items": self.items, "nextCursor": self.next_cursor}


def paginate(
    items: list[dict[str, Any]],
    *,
    where: dict[str, Any] | None = None,
    sort: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
    default_sort: str = "createdAt",
) -> Page:
    """Filter ``items`` by equality on any field, sort by ``sort`` (``-field`` for descending;
    ties by ``$id``), and cut the page after ``cursor`` (keyset: stable under inserts)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidQuery(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    field = (sort or default_sort).lstrip("-")
    descending = (sort or default_sort).startswith("-")
    chosen = [item for item in items if _matches(item, where or {})]
    key = _key(field)
    chosen.sort(key=key, reverse=descending)
    if cursor is not None:
        after = _decode(cursor, field)
        try:
            chosen = [item for item in chosen if (key(item) < after) == descending
                      and key(item) != after]  # fmt: skip
        except TypeError as exc:  # a forged cursor whose values do not compare with the items
            raise InvalidQuery("the cursor is not valid") from exc
    page = chosen[:limit]
    more = len(chosen) > limit
    return Page(page, _encode(field, key(page[-1])) if more and page else None)


def _matches(item: dict[str, Any], where: dict[str, Any]) -> bool:
    return all(item.get(field) == value for field, value in where.items())


def _key(field: str) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    def key(item: dict[str, Any]) -> tuple[Any, ...]:
        value = item.get(field)
        # None sorts first; mixed types sort by their type name, never raising
        return (value is not None, type(value).__name__, value if value is not None else 0,
                str(item.get("$id", "")))  # fmt: skip

    return key


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


# -- keyset pages read from the database ----------------------------------------------------------


_INT64 = 2**63 - 1


def keyset_after(
    cursor: str | None, listing: str, types: tuple[type[float] | type[int] | type[str], ...]
) -> tuple[Any, ...] | None:
    """The keyset a cursor of ``listing`` holds, one value of each of ``types``, or None for the
    first page. ``InvalidQuery`` for anything else (a forged or corrupted cursor)."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = orjson.loads(raw)
        key = data["k"]
        valid = data["l"] == listing and isinstance(key, list) and len(key) == len(types)
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
        raise InvalidQuery("the cursor is not valid") from exc
    if not valid:
        raise InvalidQuery(f"the cursor does not belong to this listing ({listing})")
    return tuple(_typed(value, kind) for value, kind in zip(key, types, strict=True))


def _typed(value: Any, kind: type[float] | type[int] | type[str]) -> Any:
    """``value`` as the column type it stands for, as the page's own cursor wrote it."""
    if kind is str and isinstance(value, str):
        return value
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    integer = isinstance(value, int) and not isinstance(value, bool)
    if kind is int and integer and -_INT64 <= value <= _INT64:
        return value
    raise InvalidQuery("the cursor is not valid")


def keyset_slice(
    rows: list[R], limit: int, listing: str, key: Callable[[R], list[Any]]
) -> tuple[list[R], str | None]:
    """The rows of a page read with ``LIMIT limit + 1`` and the next page's cursor: the extra
    row only says that there is a next page, whose cursor holds the keyset of the last row."""
    shown = rows[:limit]
    cursor = None
    if len(rows) > limit and shown:
        raw = orjson.dumps({"l": listing, "k": key(shown[-1])})
        cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return shown, cursor


def keyset_page(
    rows: list[Any],
    limit: int,
    listing: str,
    key: Callable[[Any], list[Any]],
    show: Callable[[Any], dict[str, Any]],
) -> Page:
    """A page of ``rows`` read with ``LIMIT limit + 1`` (see :func:`keyset_slice`)."""
    shown, cursor = keyset_slice(rows, limit, listing, key)
    return Page([show(row) for row in shown], cursor)


def check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidQuery(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")


def keyset_list(
    rows: list[R],
    limit: int,
    cursor: str | None,
    listing: str,
    key: Callable[[R], list[Any]],
    types: tuple[type[float] | type[int] | type[str], ...],
) -> tuple[list[R], str | None]:
    """A page of ``rows`` read whole (a listing small by nature: an organization's keys,
    webhooks or secrets) in the order of ``key``, after ``cursor``, and the next page's cursor
    (as :func:`keyset_slice`)."""
    check_limit(limit)
    after = keyset_after(cursor, listing, types)
    ordered = sorted(rows, key=lambda row: tuple(key(row)))
    if after is not None:
        ordered = [row for row in ordered if tuple(key(row)) > after]
    return keyset_slice(ordered[: limit + 1], limit, listing, key)
