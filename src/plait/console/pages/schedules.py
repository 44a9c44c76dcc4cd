"""``/schedules``: the organization's schedules, their next ticks and last fires; editors create
and delete them (as ``POST``/``DELETE /~{org}/schedules`` do, with the same role)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.responses import Response

from plait.console.pages.admin import FieldProblem, done, json_field, problems_of, text_field
from plait.console.render import page
from plait.console.session import Session
from plait.console.web import Engined, Signed, change, console_router, form
from plait.engine import Engine
from plait.errors import PlaitError

router = console_router()

PAGE_SIZE = 50
FIRES_SHOWN = 3
TICKS_SHOWN = 5
FIELDS = ("workflow", "cron", "timezone", "input")
NOTICES = {"created": "The schedule was created.", "deleted": "The schedule was deleted."}


@router.get("/schedules")
async def schedules(
    request: Request, session: Signed, engine: Engined, workflow: str | None = None,
    cursor: str | None = None, done: str | None = None,
) -> Response:  # fmt: skip
    return await _page(request, session, engine, workflow=workflow or None, cursor=cursor,
                       notice=NOTICES.get(done or ""))  # fmt: skip


@router.post("/schedules")
async def create_schedule(
    request: Request, session: Annotated[Session, Depends(change("editor"))], engine: Engined
) -> Response:
    values = await form(request)
    typed = {name: text_field(values, name) for name in FIELDS}
    try:
        body: dict[str, Any] = {"workflow": typed["workflow"], "cron": typed["cron"],
                                "timezone": typed["timezone"] or "UTC",
                                "input": json_field(typed["input"], "input")}  # fmt: skip
        await engine.schedules.create(session.org, body)
    except (PlaitError, FieldProblem) as exc:
        return await _page(request, session, engine, status=422, typed=typed,
                           problems=problems_of(exc, FIELDS))  # fmt: skip
    return done("/schedules", "created")


@router.post("/schedules/{schedule_id}/delete")
async def delete_schedule(
    schedule_id: str, session: Annotated[Session, Depends(change("editor"))], engine: Engined
) -> Response:
    await engine.schedules.delete(session.org, schedule_id)
    return done("/schedules", "deleted")


async def _page(
    request: Request, session: Session, engine: Engine, *, workflow: str | None = None,
    cursor: str | None = None, status: int = 200, typed: dict[str, str] | None = None,
    problems: dict[str, str] | None = None, notice: str | None = None,
) -> Response:  # fmt: skip
    workflows = (await engine.workflows.find(session.org, sort="name", limit=1000)).items
    names = {w.id: w.name for w in workflows}
    found = await engine.schedules.find(session.org, workflow, limit=PAGE_SIZE, cursor=cursor)
    rows = [(s, await engine.schedules.ticks(session.org, s.id, fired=FIRES_SHOWN,
                                             upcoming=TICKS_SHOWN))
            for s in found.items]  # fmt: skip
    return page(request, "admin/schedules.html", session, section="schedules", status=status,
                rows=rows, names=names, workflows=workflows, workflow=workflow,
                next_cursor=found.next_cursor, typed=typed or {}, problems=problems or {},
                notice=notice)  # fmt: skip
