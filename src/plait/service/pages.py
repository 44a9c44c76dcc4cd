"""Keyset pages read from the database: ``limit`` rows after an opaque cursor, in a stable
order; the services wrap them in their typed page resources (``plait.resources``)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, TypeVar

import orjson

from plait.errors import InvalidQuery

MAX_LIMIT = 1000
R = TypeVar("R")


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
    cursor = keyset_cursor(listing, key(shown[-1])) if len(rows) > limit and shown else None
    return shown, cursor


def keyset_cursor(listing: str, key: list[Any]) -> str:
    """The opaque cursor of the page of ``listing`` that starts after the keyset ``key``."""
    raw = orjson.dumps({"l": listing, "k": key})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


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
