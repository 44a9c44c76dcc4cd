"""Bulk operations on runs: cancel, retry or resume a list of runs, or every run matching a
filter, at most ``bulk_max_runs`` at a time. Each run goes through the per-run operation of
``engine.runs`` (so its audit entry and its rules apply once, as for one run); a run the
operation does not apply to is skipped with the reason, and the result says what happened to
each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, get_args

from plait.errors import InvalidParameter, InvalidQuery, LimitExceeded, PlaitError, RunNotFound
from plait.resources.bulk import BulkAction, BulkResult, BulkRunResult
from plait.store.records import TERMINAL

if TYPE_CHECKING:
    from plait.resources.runs import Run
    from plait.service.run_filters import RunFilters
    from plait.service.runs import RunService

ACTIONS: tuple[str, ...] = get_args(BulkAction)


async def bulk(
    runs: RunService, org: str, action: str, *, ids: Sequence[str] | None,
    where: RunFilters | None, by: str | None, reason: str | None,
) -> BulkResult:  # fmt: skip
    """Apply ``action`` to the runs ``ids`` (in that order, repeats once) or to the runs that
    match ``where`` (newest first). ``InvalidParameter`` for an unknown action or for neither
    or both of ``ids`` and ``where``; ``LimitExceeded`` (setting ``bulk_max_runs``) when more
    runs are given or match than one request may take: nothing is done then."""
    if action not in ACTIONS:
        raise InvalidParameter("$.action", f"unknown action {action!r}; use one of "
                               f"{', '.join(ACTIONS)}")  # fmt: skip
    if (ids is None) == (where is None):
        raise InvalidParameter("$", "give either the run ids or a filter")
    cap = runs.deps.settings.bulk_max_runs
    taken = list(dict.fromkeys(ids)) if ids is not None else await _matching(runs, org, where, cap)
    if not taken and ids is not None:
        raise InvalidParameter("$.ids", "no run ids given")
    if len(taken) > cap:
        what = "the number of runs " + ("given" if ids is not None else "matching the filter")
        raise LimitExceeded(what, f"{len(taken)}{'' if ids is not None else ' or more'}", cap,
                            "bulk_max_runs")  # fmt: skip
    results = [await _apply(runs, org, action, run_id, by, reason) for run_id in taken]
    return BulkResult.of(action, results)  # type: ignore[arg-type]


MAX_PAGES = 20
"""Pages of the runs search one bulk action reads to find the runs its filter matches (each
checks at most ``run_search_scan`` runs): a sparse filter over many runs is refused, not read
to the end of the table in one request."""


async def _matching(runs: RunService, org: str, where: RunFilters | None, cap: int) -> list[str]:
    """The ids of the runs matching ``where``, newest first, up to one more than ``cap`` (to
    tell that there are too many)."""
    assert where is not None
    found: list[str] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = await runs.find_where(org, where, limit=min(cap + 1 - len(found), 1000),
                                     cursor=cursor)  # fmt: skip
        found += [run.id for run in page.items]
        cursor = page.next_cursor
        if cursor is None or len(found) > cap:
            return found
    raise InvalidQuery(
        f"finding the runs this filter matches took more than {MAX_PAGES} pages of the runs "
        "search (a trigger, an outcome of succeeded or partial, or an input field is checked "
        "run by run); narrow it with a workflow, a status or a time range"
    )


_NOT_APPLICABLE = {
    "cancel": lambda status: f"already {status}" if status in TERMINAL else None,
    "retry": lambda status: None if status in TERMINAL else f"still {status}: it has not ended",
    "resume": lambda status: None if status == "failed" else
    f"{status}: only a failed run can be resumed",
}  # fmt: skip
"""Why ``action`` does not apply to a run in a status (``None``: it applies)."""


async def _apply(
    runs: RunService, org: str, action: str, run_id: str, by: str | None, reason: str | None
) -> BulkRunResult:
    """Do ``action`` to one run through its per-run operation; what happened."""
    run = await (await runs.deps.store()).get_run(run_id, with_steps=False)
    if run is None or run.org != org:
        return BulkRunResult(run_id=run_id, result="not-found")
    why = _NOT_APPLICABLE[action](run.status)
    if why is not None:
        return BulkRunResult(run_id=run_id, result="skipped", reason=why, status=run.status)
    try:
        after = await _operate(runs, org, action, run_id, by, reason)
    except RunNotFound:
        return BulkRunResult(run_id=run_id, result="not-found")
    except PlaitError as exc:  # a rule of the operation refused it (a rolled-back run ...)
        return BulkRunResult(run_id=run_id, result="skipped", reason=str(exc), status=run.status)
    if action == "retry":
        return BulkRunResult(run_id=run_id, result="done", status=run.status,
                             new_run_id=after.id)  # fmt: skip
    return BulkRunResult(run_id=run_id, result="done", status=after.status)


async def _operate(
    runs: RunService, org: str, action: str, run_id: str, by: str | None, reason: str | None
) -> Run:
    if action == "cancel":
        return await runs.cancel(org, run_id, reason=reason, by=by)
    if action == "retry":
        return await runs.retry(org, run_id, by=by, reason=reason)
    return await runs.resume(org, run_id, by=by, reason=reason)
