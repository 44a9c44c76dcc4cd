"""``engine.overview``: how an organization's workflows are doing now, and its event stream
with the runs each event started or woke.

The overview's windows end now (the engine's clock): runs that *ended* in the last hour and
the last day, by outcome (a success rate is of the runs that ended), the day's p95 duration,
the runs pending, running and waiting now, and the open tasks with those past due. Each figure
is an index range of its window in the store (``plait.store.overview``), so the cost follows the
window's runs, not every run stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from plait.errors import InvalidParameter
from plait.service.pages import check_limit, keyset_after, keyset_slice

if TYPE_CHECKING:
    from plait.resources.overview import EventEntryPage, Overview
    from plait.service.deps import Deps


def type_pattern(type: str | None) -> tuple[str | None, str | None]:
    """``(exact type, prefix)`` of an event type filter: ``Deal.won`` is one type, ``Deal.*``
    every type starting with ``Deal.``, ``*`` (or nothing) every type. ``InvalidParameter`` at
    ``$.query.type`` for a ``*`` anywhere but at the end."""
    if type is None or type.strip() in ("", "*"):
        return None, None
    text = type.strip()
    if text.endswith("*"):
        prefix = text[:-1]
        if "*" in prefix:
            raise InvalidParameter("$.query.type", f"{type!r}: a * may only end the type, as "
                                   "in Deal.*")  # fmt: skip
        return None, prefix
    if "*" in text:
        raise InvalidParameter("$.query.type", f"{type!r}: a * may only end the type, as in "
                               "Deal.*")  # fmt: skip
    return text, None


class OverviewService:
    """The overview and the event stream of one organization at a time."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def get(self, org: str) -> Overview:
        """Every workflow of ``org`` (stored ones, and any other its runs or tasks name) with
        its figures over the last hour and day, and the organization's runs per minute and
        per hour (an empty list of workflows for an organization that has none)."""
        from plait.resources.overview import Overview

        store = await self.deps.store()
        return Overview.of(org, await store.overview_figures(org, self.deps.now()))

    async def events(
        self, org: str, *, type: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> EventEntryPage:
        """Events of ``org``, newest first (the order they were stored), each with the runs it
        started and woke, a page at a time (keyset on the store's sequence): of one ``type``,
        of a family (``Deal.*``) or of all."""
        from plait.resources.overview import EventEntry, EventEntryPage

        exact, prefix = type_pattern(type)
        check_limit(limit)
        key = keyset_after(cursor, "event-entries", (int,))
        store = await self.deps.store()
        rows = await store.page_event_entries(org, type=exact, prefix=prefix,
                                              after_seq=None if key is None else int(key[0]),
                                              limit=limit + 1)  # fmt: skip
        shown, next_cursor = keyset_slice(rows, limit, "event-entries", lambda e: [e.seq])
        return EventEntryPage(items=[EventEntry.of_logged(e) for e in shown],
                              next_cursor=next_cursor)  # fmt: skip
