"""Which runs a listing or a bulk operation takes: filters by workflow, status, outcome,
trigger and creation time, and a search by run id, event id or input field, checked and turned
into what the store reads (``plait.store.runs.RunFilter``) in one place for every interface."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import orjson

from plait import text
from plait.errors import InvalidParameter
from plait.store.records import RUN_STATUSES
from plait.store.runs import RunFilter

if TYPE_CHECKING:
    from plait.service.deps import Deps

__all__ = ["RUN_OUTCOMES", "RUN_STATUSES", "RUN_TRIGGERS", "RunFilters", "parse_search", "resolve"]

RUN_OUTCOMES = ("succeeded", "partial", "failed", "cancelled")
RUN_TRIGGERS = ("api", "manual", "event", "schedule", "webhook", "child", "retry", "fork")
"""How a run was started: by a program (``api``), a person (``manual``), an event, a
schedule, a webhook, a parent run, or as the retry or fork of another run."""

_OUTCOME_STATUS = {"succeeded": "succeeded", "partial": "succeeded", "failed": "failed",
                   "cancelled": "cancelled"}  # fmt: skip
"""The status of a run with each outcome: an outcome filter reads through the status index."""

PREFIX_IDS = 1000
"""Most runs a run id prefix search takes (the first, in id order): type more of the id."""

_KEY = re.compile(r'[^".\[\]=]+')
WORKFLOW_ID = re.compile(r"workflow_[0-9A-Za-z]+")
"""The shape of a stored workflow's id (``workflow_nV4xKpQm``): a run filter of that shape is
looked up (by id, or by name should a workflow be named so)."""

Moment = datetime | float
"""A time: an aware ``datetime`` (a naive one is taken as UTC) or seconds since the epoch."""


@dataclass(frozen=True)
class Search:
    """What a search text asks for. ``kind`` run: runs whose id starts with ``term``; event:
    the runs the event ``term`` started or woke; input: runs whose input at ``path`` is the
    JSON ``value``."""

    kind: Literal["run", "event", "input"]
    term: str = ""
    path: tuple[str | int, ...] = ()
    value: str = "null"


def parse_search(search: str) -> Search:
    """Read a search text: ``input.customer.email=ann@example.com`` (the value as JSON when it
    is JSON, else as text: ``input.total=5`` is the number, ``input.code="5"`` the text),
    ``run:ID``, ``event:ID``, or a bare id (``run_`` ids are runs, others events).
    ``InvalidParameter`` for a malformed input path."""
    term = search.strip()
    text.check(term, "$.search")
    if term.startswith("input") and "=" in term and term[5:6] in (".", "=", "["):
        return _input_search(term)
    kind, _, rest = term.partition(":")
    if kind in ("run", "event") and rest.strip():
        return Search(kind, rest.strip())  # type: ignore[arg-type]
    if not term:
        raise InvalidParameter("$.search", "empty; give a run id, an event id or input.path=value")
    return Search("run" if term.startswith("run_") else "event", term)


def _input_search(term: str) -> Search:
    """``input.a.b[0]=value`` (or ``input.a.0``) as a path into the input and a JSON value."""
    where, _, raw = term.partition("=")
    path: list[str | int] = []
    for part in where[5:].replace("[", ".").replace("]", "").split(".")[1:]:
        if part.isdigit():
            path.append(int(part))
        elif _KEY.fullmatch(part):
            path.append(part)
        else:
            raise InvalidParameter("$.search", f"the path {where.strip()!r} is not valid: write "
                                   "input.key.key or input.list.0 (no quotes or empty "
                                   "keys)")  # fmt: skip
    raw = raw.strip()
    try:
        value = orjson.dumps(orjson.loads(raw)).decode()
    except orjson.JSONDecodeError:
        value = orjson.dumps(raw).decode()
    return Search("input", where.strip(), tuple(path), value)


@dataclass(frozen=True)
class RunFilters:
    """Which runs to take (``None``: any). ``workflow`` is a workflow's name or ``$id``;
    ``created_after`` is inclusive, ``created_before`` exclusive; ``search`` as
    :func:`parse_search` reads it."""

    workflow: str | None = None
    status: str | None = None
    outcome: str | None = None
    trigger: str | None = None
    created_after: Moment | None = None
    created_before: Moment | None = None
    search: str | None = None

    @classmethod
    def of(cls, given: Mapping[str, Any]) -> RunFilters:
        """Filters from a dict of the same names; ``InvalidParameter`` for another name."""
        known = [f.name for f in fields(cls)]
        for name in given:
            if name not in known:
                raise InvalidParameter(f"$.{name}", f"not a run filter; use {', '.join(known)}")
        return cls(**given)

    def check(self) -> None:
        """``InvalidParameter`` naming the first value plait does not accept."""
        _one_of(self.status, RUN_STATUSES, "status")
        _one_of(self.outcome, RUN_OUTCOMES, "outcome")
        _one_of(self.trigger, RUN_TRIGGERS, "trigger")
        after, before = seconds(self.created_after), seconds(self.created_before)
        if after is not None and before is not None and after >= before:
            raise InvalidParameter("$.createdAfter", "must be earlier than createdBefore")
        if self.search is not None:
            parse_search(self.search)

    @property
    def any(self) -> bool:
        """Whether any filter is set."""
        return any(value is not None for value in vars(self).values())


def _one_of(value: str | None, known: tuple[str, ...], name: str) -> None:
    if value is not None and value not in known:
        raise InvalidParameter(f"$.{name}", f"unknown run {name} {value!r}; use one of "
                               f"{', '.join(known)}")  # fmt: skip


def seconds(moment: Moment | None) -> float | None:
    """``moment`` as seconds since the epoch (a naive ``datetime`` is UTC)."""
    if moment is None or isinstance(moment, float | int):
        return None if moment is None else float(moment)
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.timestamp()


@dataclass(frozen=True)
class Resolved:
    """``RunFilters`` as the store reads them: the filter, and the "created before" bound as
    a keyset (``None``: none). ``empty``: no run can match (say status failed with outcome
    succeeded, or an event that started nothing)."""

    where: RunFilter
    before: tuple[float, str] | None
    empty: bool = False


async def resolve(deps: Deps, org: str, filters: RunFilters) -> Resolved:
    """Check ``filters`` and turn them into the store's filter: the status an outcome
    implies, a workflow ``$id`` looked up, a search's runs."""
    filters.check()
    status = filters.status
    implied = _OUTCOME_STATUS.get(filters.outcome or "")
    empty = implied is not None and status is not None and status != implied
    store = await deps.store()
    workflow = filters.workflow
    if workflow is not None and WORKFLOW_ID.fullmatch(workflow):
        stored = await store.get_workflow(org, workflow)
        workflow = workflow if stored is None else stored.name
    # Failed and cancelled runs have that outcome: the status says it all, through its index.
    outcome = filters.outcome if filters.outcome in ("succeeded", "partial") else None
    where = RunFilter(workflow=workflow, status=status or implied, outcome=outcome,
                      trigger=filters.trigger, since=seconds(filters.created_after))  # fmt: skip
    if filters.search is not None:
        where, nothing = await _searched(deps, org, where, parse_search(filters.search))
        empty = empty or nothing
    before = seconds(filters.created_before)
    return Resolved(where, None if before is None else (before, ""), empty)


async def _searched(
    deps: Deps, org: str, where: RunFilter, search: Search
) -> tuple[RunFilter, bool]:
    """``where`` narrowed by ``search``, and whether nothing can match."""
    store = await deps.store()
    if search.kind == "input":
        return _with(where, path=search.path, value=search.value), False
    if search.kind == "event":
        ids = await store.event_run_ids(org, search.term)
        if ids is None:  # no such event: perhaps a run id of another shape
            ids = await store.run_ids_with_prefix(org, search.term, PREFIX_IDS)
    else:
        ids = await store.run_ids_with_prefix(org, search.term, PREFIX_IDS)
    return _with(where, ids=ids), not ids


def _with(where: RunFilter, **changes: object) -> RunFilter:
    return replace(where, **changes)  # type: ignore[arg-type]


def start_after(after: tuple[float, str] | None, before: tuple[float, str] | None) -> tuple[
    float, str] | None:  # fmt: skip
    """The keyset a page reads after: the cursor's, or the "created before" bound when that
    comes first (newest first, the smaller key)."""
    if after is None or before is None:
        return after or before
    return min(after, before)
