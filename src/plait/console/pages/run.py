"""The page of one run, ``/runs/{run_id}``: its status, progress, input and output, a step
timeline and a window of its steps (a run of 10,000 steps reads one window), its children,
operations and audit, live updates while it runs, and the operations a runner may do to it
(cancel, resume, retry, fork, signal), each a form that redirects to the run it leaves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import Depends
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from plait.api.render import without_tracebacks
from plait.console.render import page
from plait.console.session import Session
from plait.console.timeline import bars, draw, started_at
from plait.console.web import Engined, Signed, change, console_router, form
from plait.engine import Engine

router = console_router()

STEPS_SHOWN = 100
"""Steps in a window of the page (and rows, at least, of its timeline)."""
REASON_LENGTH = 1000
"""The longest reason an operation keeps (as the REST API)."""
RUN_VALUES = ("input", "output", "error", "state", "context")
STEP_VALUES = ("output", "error")
FORKABLE = frozenset({"step", "sleep", "wait", "task", "receive", "child", "group", "branch"})
"""Kinds of steps a fork may start from (the choices of the form): steps, not recorded values."""
NOTICES = {
    "cancelled": "The run was cancelled (with its live children).",
    "resumed": "The run was resumed from its failed step.",
    "retried": "This run is a retry of the run it was made from, with the same input.",
    "forked": "This run is a fork: it reuses the steps before the step chosen.",
    "signalled": "The signal was sent.",
}
"""What the page says after an operation (``?done=``): the notices are the page's own words,
never the query's."""

Runner = Annotated[Session, Depends(change("runner"))]


@router.get("/runs/{run_id}")
async def run_page(
    request: Request, session: Signed, engine: Engined, run_id: str
) -> Response:  # fmt: skip
    """The run: header, timeline, a window of steps (``?start=POSITION``), history, audit."""
    return await _page(request, session, engine, run_id)


@router.get("/runs/{run_id}/values/{part}")
async def run_value(
    request: Request, session: Signed, engine: Engined, run_id: str, part: str
) -> Response:  # fmt: skip
    """The whole of a run's input, output, error, published state or context (the page cuts
    large values)."""
    if part not in RUN_VALUES:
        return _not_found(request, session, f"a run has no value {part!r}")
    run = (await engine.steps.outline(session.org, run_id)).run
    value = getattr(run, part)
    if part == "error":
        value = shown_error(value, session)
    return page(request, "run/value.html", session, section="runs", run_id=run_id,
                what=f"The {part} of run {run_id}", value=value)  # fmt: skip


@router.get("/runs/{run_id}/steps/{key:path}/{part}")
async def step_value(
    request: Request, session: Signed, engine: Engined, run_id: str, key: str, part: str
) -> Response:  # fmt: skip
    """The whole output or error of one step."""
    if part not in STEP_VALUES:
        return _not_found(request, session, f"a step has no value {part!r}")
    step = await engine.steps.get(session.org, run_id, key)
    value = shown_error(step.error, session) if part == "error" else step.output
    return page(request, "run/value.html", session, section="runs", run_id=run_id,
                what=f"The {part} of step {key} of run {run_id}", value=value)  # fmt: skip


@router.post("/runs/{run_id}/cancel")
async def cancel(request: Request, session: Runner, engine: Engined, run_id: str) -> Response:
    fields = await form(request)
    reason, problem = _reason(fields)
    if problem:
        return await _page(request, session, engine, run_id, problems={"cancel": problem})
    await engine.runs.cancel(session.org, run_id, reason=reason, by=_actor(session))
    return _to_run(run_id, "cancelled")


@router.post("/runs/{run_id}/resume")
async def resume(request: Request, session: Runner, engine: Engined, run_id: str) -> Response:
    fields = await form(request)
    reason, problem = _reason(fields)
    if problem:
        return await _page(request, session, engine, run_id, problems={"resume": problem})
    await engine.runs.resume(session.org, run_id, newest=_checked(fields, "newest"),
                             by=_actor(session), reason=reason)  # fmt: skip
    return _to_run(run_id, "resumed")


@router.post("/runs/{run_id}/retry")
async def retry(request: Request, session: Runner, engine: Engined, run_id: str) -> Response:
    fields = await form(request)
    reason, problem = _reason(fields)
    if problem:
        return await _page(request, session, engine, run_id, problems={"retry": problem})
    new = await engine.runs.retry(session.org, run_id, newest=_checked(fields, "newest"),
                                  by=_actor(session), reason=reason)  # fmt: skip
    return _to_run(new.id, "retried")


@router.post("/runs/{run_id}/fork")
async def fork(request: Request, session: Runner, engine: Engined, run_id: str) -> Response:
    fields = await form(request)
    reason, problem = _reason(fields)
    step = str(fields.get("step", "")).strip()
    if not problem and not step:
        problem = "Choose the step to execute from."
    if problem:
        return await _page(request, session, engine, run_id, problems={"fork": problem})
    chosen: str | int = int(step) if _number(step) else step
    new = await engine.runs.fork(session.org, run_id, chosen, newest=_checked(fields, "newest"),
                                 by=_actor(session), reason=reason)  # fmt: skip
    return _to_run(new.id, "forked")


@router.post("/runs/{run_id}/signal")
async def signal(request: Request, session: Runner, engine: Engined, run_id: str) -> Response:
    fields = await form(request)
    name = str(fields.get("name", "")).strip()
    raw = str(fields.get("payload", "")).strip()
    problem = None
    if not name or len(name) > 200:
        problem = "Name the signal (1 to 200 characters)."
    payload: Any = None
    if problem is None and raw:
        try:
            payload = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            problem = f"The payload is not JSON: {exc}."
    if problem:
        return await _page(request, session, engine, run_id, problems={"signal": problem},
                           sent={"name": name, "payload": raw})  # fmt: skip
    await engine.runs.signal(session.org, run_id, name, payload)
    return _to_run(run_id, "signalled")


# -- the page ----------------------------------------------------------------------------------


async def _page(
    request: Request, session: Session, engine: Engine, run_id: str, *,
    problems: dict[str, str] | None = None, sent: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    """The run's page (with the problems of a form sent, at status 422, when there are)."""
    include = ("audit",) if session.can("admin") else None
    outline = await engine.steps.outline(session.org, run_id, include=include)
    start = _start(request.query_params.get("start"), request.query_params.get("position"))
    window = await engine.steps.window(session.org, run_id, start=start, limit=STEPS_SHOWN)
    retried = [s.key for s in window.items if s.attempts > 1 or s.status == "retrying"]
    attempts = await engine.steps.attempts(session.org, run_id, retried)
    rows = bars(window.items, attempts, engine.clock.time())
    done = request.query_params.get("done", "")
    return page(
        request, "run/page.html", session, section="runs",
        status=422 if problems else 200, run=outline.run, outline=outline, window=window,
        timeline=draw(rows, label=f"Step timeline of run {run_id}"),
        timeline_from=started_at(rows), attempt_rows=len(rows), now=engine.clock.time(),
        notice=NOTICES.get(done),
        problems=problems or {}, sent=sent or {}, error_of=_errors_for(session), error_rest=rest,
        fork_choices=[s for s in window.items if s.kind in FORKABLE],
    )  # fmt: skip


def shown_error(error: dict[str, Any] | None, session: Session) -> dict[str, Any] | None:
    """A recorded error as ``session`` may see it: tracebacks only for editors and admins
    (who write workflows), as the REST API (``plait.api.render``)."""
    if error is None or session.can("editor"):
        return error
    stripped: dict[str, Any] = without_tracebacks({"error": dict(error)})["error"]
    return stripped


def rest(error: dict[str, Any]) -> dict[str, Any]:
    """What a recorded error carries besides its type, message, path and traceback (which the
    page shows as text): the step, a wrapped cause."""
    return {k: v for k, v in error.items() if k not in ("type", "message", "path", "traceback")}


def _errors_for(session: Session) -> Callable[[dict[str, Any] | None], dict[str, Any] | None]:
    return lambda error: shown_error(error, session)


def _start(raw: str | None, position: str | None) -> int:
    """The window's first position: ``?start=`` (0-based, the pager's links) or
    ``?position=`` (1-based, the jump form's); the first window for anything else."""
    if position is not None and _number(position) and int(position) > 0:
        return int(position) - 1
    return int(raw) if raw is not None and _number(raw) else 0


def _reason(fields: dict[str, Any]) -> tuple[str | None, str | None]:
    """The form's reason (None when blank), and what is wrong with it."""
    reason = str(fields.get("reason", "")).strip() or None
    if reason is not None and len(reason) > REASON_LENGTH:
        return None, f"Keep the reason under {REASON_LENGTH} characters."
    return reason, None


def _checked(fields: dict[str, Any], name: str) -> bool:
    return str(fields.get(name, "")).lower() in ("on", "true", "1", "yes")


def _actor(session: Session) -> str:
    """Who did it, as the run's history records it: the key (as the REST API does)."""
    return f"key:{session.key_id}"


def _to_run(run_id: str, done: str) -> Response:
    return RedirectResponse(f"/runs/{run_id}?done={done}", status_code=303)


def _not_found(request: Request, session: Session, message: str) -> Response:
    return page(request, "error.html", session, status=404, code=404, message=message,
                problems=[])  # fmt: skip


def _number(text: str) -> bool:
    """Whether ``text`` is a small number in ASCII digits (``"²".isdigit()`` is true too)."""
    return text.isascii() and text.isdigit() and len(text) < 10
