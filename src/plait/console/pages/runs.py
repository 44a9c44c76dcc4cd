"""The Runs page: the organization's runs, newest first, filtered by workflow, status, outcome,
trigger and creation time and searched by run id, event id or input field (``engine.runs.find``,
as ``GET /~{org}/runs``), a keyset page at a time; every filter lives in the query string. A
runner (or above) cancels, retries or resumes the runs selected or all the runs matching
(``engine.runs.bulk``, as ``POST /~{org}/runs/bulk``); the page then says what happened."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Query
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from plait.api.problems import error_items
from plait.console.render import page
from plait.console.session import Session
from plait.console.web import Engined, Signed, change, console_router, form, form_lists
from plait.errors import InvalidQuery
from plait.resources.runs import RunPage
from plait.service.bulk import ACTIONS
from plait.service.run_filters import RUN_OUTCOMES, RUN_STATUSES, RUN_TRIGGERS, RunFilters

router = console_router()
PAGE = 50
"""Runs a page shows."""
FILTERS = ("workflow", "status", "outcome", "trigger", "from", "to", "search")
"""The query string's filter fields, as the form names them."""
VERBS = {"cancel": "cancelled", "retry": "retried", "resume": "resumed"}
WHY = {"cancel": "they had already ended", "retry": "they had not ended yet",
       "resume": "only a failed run can be resumed"}  # fmt: skip
"""Why a bulk action skips a run, in the page's own words (the per-run reasons are in the REST
answer and the CLI's table)."""

Runner = Annotated[Session, Depends(change("runner"))]
Text = Annotated[str | None, Query(max_length=1000)]


@router.get("/runs")
async def runs(
    request: Request, session: Signed, engine: Engined, workflow: Text = None,
    status: Text = None, outcome: Text = None, trigger: Text = None,
    from_: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    to: Annotated[str | None, Query(max_length=40)] = None, search: Text = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> Response:  # fmt: skip
    """The runs page (``?workflow=&status=&outcome=&trigger=&from=&to=&search=&cursor=``)."""
    chosen = {"workflow": workflow, "status": status, "outcome": outcome, "trigger": trigger,
              "from": from_, "to": to, "search": search}  # fmt: skip
    shown = {name: value.strip() for name, value in chosen.items() if value and value.strip()}
    problems: list[dict[str, str]] = []
    found = RunPage(items=[], next_cursor=None)
    try:
        found = await engine.runs.find_where(session.org, _filters(shown), limit=PAGE,
                                             cursor=cursor)  # fmt: skip
    except InvalidQuery as exc:
        problems = error_items(exc) or [{"path": "$", "message": str(exc)}]
    workflows = await engine.workflows.find(session.org, sort="name", limit=500)
    return page(
        request, "runs.html", session, section="runs", status=422 if problems else 200,
        runs=found.items, next_cursor=found.next_cursor, first=cursor is None, shown=shown,
        filters=urlencode(shown), workflows=sorted({w.name for w in workflows.items}),
        statuses=RUN_STATUSES, outcomes=RUN_OUTCOMES, triggers=RUN_TRIGGERS,
        problems=problems, notice=_notice(request.query_params),
    )  # fmt: skip


def _filters(shown: dict[str, str]) -> RunFilters:
    """The page's query as the service's filters (``from``/``to`` as typed in a
    ``datetime-local`` field: UTC)."""
    return RunFilters(
        shown.get("workflow"), shown.get("status"), shown.get("outcome"), shown.get("trigger"),
        _time(shown.get("from"), "from"), _time(shown.get("to"), "to"), shown.get("search"),
    )  # fmt: skip


def _time(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidQuery(f"{name}: {text!r} is not a date and time (YYYY-MM-DDTHH:MM)") from exc


@router.post("/runs/bulk")
async def bulk(request: Request, session: Runner, engine: Engined) -> Response:
    """Cancel, retry or resume the runs checked (``run``) or all the runs matching the filters
    the form carries; back to the same filtered page with what happened."""
    fields = await form(request)
    action, _, scope = str(fields.get("bulk", "")).partition(":")
    shown = {name: str(fields[name]) for name in FILTERS if str(fields.get(name) or "").strip()}
    back = f"/runs?{urlencode(shown)}&" if shown else "/runs?"
    if action not in ACTIONS:
        return RedirectResponse(f"{back}done=unknown", status_code=303)
    by = f"key:{session.key_id}"
    if scope == "matching":
        done = await engine.runs.bulk(session.org, action, where=_filters(shown), by=by)
    else:
        ids = await form_lists(request, "run")
        if not ids:
            return RedirectResponse(f"{back}done=none", status_code=303)
        done = await engine.runs.bulk(session.org, action, ids=ids, by=by)
    skipped = sorted({r.status for r in done.results if r.result == "skipped" and r.status})
    summary = {"done": action, "n": done.done, "skipped": done.skipped,
               "missing": done.not_found, "why": ",".join(skipped)}  # fmt: skip
    return RedirectResponse(back + urlencode(summary), status_code=303)


def _notice(query: Any) -> tuple[str, str] | None:
    """What the page says after a bulk action (``?done=``), in its own words: the query
    brings only an action, counts and statuses, each checked."""
    action = query.get("done")
    if action == "none":
        return "bad", "Nothing was done: select runs first, or use an “all matching” button."
    if action not in VERBS:
        return None
    n, skipped, missing = (_count(query.get(name)) for name in ("n", "skipped", "missing"))
    parts = [f"{n} {'run' if n == 1 else 'runs'} {VERBS[action]}."]
    if skipped:
        statuses = [s for s in str(query.get("why", "")).split(",") if s in RUN_STATUSES]
        seen = f" ({', '.join(statuses)})" if statuses else ""
        parts.append(f"{skipped} skipped: {WHY[action]}{seen}.")
    if missing:
        parts.append(f"{missing} not found.")
    return ("good" if not skipped and not missing else "info"), " ".join(parts)


def _count(text: str | None) -> int:
    return int(text) if text and text.isascii() and text.isdigit() and len(text) < 8 else 0
