"""``/machines``: the instances of each state machine with their current state, and an
instance's page with its transitions; runners send an event to an instance (as
``POST /~{org}/workflows/{workflow}/instances/{key}/events`` does, with the same role)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from starlette.responses import Response

from plait.console.pages.admin import FieldProblem, done, json_field, problems_of, text_field
from plait.console.render import page
from plait.console.session import Session
from plait.console.web import Engined, Signed, change, console_router, form
from plait.engine import Engine
from plait.errors import PlaitError
from plait.resources.workflows import StoredWorkflow

router = console_router()

PAGE_SIZE = 25
FIELDS = ("type", "data", "id")
NOTICES = {
    "created": "The event created the instance; its run takes it shortly.",
    "delivered": "The event was delivered; the instance's run takes it shortly.",
    "duplicate": "That event id had reached the instance before: nothing was sent.",
}


@router.get("/machines")
async def machines(
    request: Request, session: Signed, engine: Engined, workflow: str | None = None,
    cursor: str | None = None,
) -> Response:  # fmt: skip
    every = await engine.workflows.find(session.org, sort="name", limit=1000)
    found = [w for w in every.items if is_machine(w)]
    chosen = _chosen(found, workflow)
    rows, next_cursor = [], None
    if chosen is not None:
        listed = await engine.machines.find(session.org, chosen.id, limit=PAGE_SIZE, cursor=cursor)
        # A listing leaves out the state (as run listings leave out steps): read each instance.
        rows = [await engine.machines.get(session.org, chosen.id, i.key) for i in listed.items]
        next_cursor = listed.next_cursor
    return page(request, "admin/machines.html", session, section="machines",
                machines=found, chosen=chosen, rows=rows, next_cursor=next_cursor)  # fmt: skip


@router.get("/machines/{workflow}/{key:path}")
async def instance(
    request: Request, session: Signed, engine: Engined, workflow: str, key: str,
    done: str | None = None,
) -> Response:  # fmt: skip
    return await _instance_page(request, session, engine, workflow, key,
                                notice=NOTICES.get(done or ""))  # fmt: skip


@router.post("/machines/{workflow}/send")
async def send_event(
    request: Request, session: Annotated[Session, Depends(change("runner"))], engine: Engined,
    workflow: str,
) -> Response:  # fmt: skip
    values = await form(request)
    key = text_field(values, "key")
    typed = {name: text_field(values, name) for name in FIELDS}
    try:
        if not typed["type"]:
            raise FieldProblem("type", "Give the event's type or name.")
        data = json_field(typed["data"], "data")
        sent = await engine.machines.send(session.org, workflow, key, typed["type"], data,
                                          id=typed["id"] or None)  # fmt: skip
    except (PlaitError, FieldProblem) as exc:
        return await _instance_page(request, session, engine, workflow, key, status=422,
                                    typed=typed, problems=problems_of(exc, FIELDS))  # fmt: skip
    return done(f"/machines/{quote(workflow, safe='')}/{quote(key, safe='/')}", sent.outcome)


def is_machine(workflow: StoredWorkflow) -> bool:
    """Whether a workflow is a state machine (its document has the dialect's keys)."""
    document = workflow.definition or {}
    return "states" in document or document.get("machine") is not None


def _chosen(found: list[StoredWorkflow], ref: str | None) -> StoredWorkflow | None:
    if ref is None:
        return found[0] if found else None
    return next((w for w in found if ref in (w.id, w.name)), None)


async def _instance_page(
    request: Request, session: Session, engine: Engine, workflow: str, key: str, *,
    status: int = 200, typed: dict[str, str] | None = None,
    problems: dict[str, str] | None = None, notice: str | None = None,
) -> Response:  # fmt: skip
    shown = await engine.machines.get(session.org, workflow, key)
    stored = await engine.workflows.get(session.org, workflow)
    events = _events(stored.definition or {}, shown.state)
    return page(request, "admin/instance.html", session, section="machines", status=status,
                instance=shown, workflow=stored, events=events, typed=typed or {},
                transitions=[(h, _moment(h.get("at"))) for h in shown.history],
                problems=problems or {}, notice=notice)  # fmt: skip


def _moment(at: Any) -> datetime | None:
    """A transition's time (ISO 8601 text in the history), to show in the viewer's zone."""
    if not isinstance(at, str):
        return None
    try:
        return datetime.fromisoformat(at)
    except ValueError:
        return None


def _events(document: dict[str, Any], state: str | None) -> list[str]:
    """The events the current state has transitions for (suggestions for the send form)."""
    nested = document.get("machine")
    states = nested.get("states") if isinstance(nested, dict) else document.get("states")
    if not isinstance(states, dict) or state is None:
        return []
    spec = states.get(state)
    on = spec.get("on") if isinstance(spec, dict) else None
    return sorted(str(name) for name in on) if isinstance(on, dict) else []
