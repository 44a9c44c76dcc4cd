"""``/secrets`` (admins): the organization's secrets by name and when each was set. Values are
write-only: a value is typed in a password field, sealed by the service, and never appears in any
page (not even a form sent back with a problem)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from plait.console.pages.admin import done, problems_of, text_field
from plait.console.render import page
from plait.console.session import Session
from plait.console.web import Engined, change, console_router, form, role
from plait.engine import Engine
from plait.errors import PlaitError

router = console_router()

PAGE_SIZE = 200
FIELDS = ("name", "value")
NOTICES = {"set": "The secret was stored (sealed); its value is not shown again.",
           "deleted": "The secret was deleted."}  # fmt: skip

Admin = Annotated[Session, Depends(role("admin"))]
AdminChange = Annotated[Session, Depends(change("admin"))]


@router.get("/secrets")
async def secrets(
    request: Request, session: Admin, engine: Engined, cursor: str | None = None,
    done: str | None = None,
) -> Response:  # fmt: skip
    return await _page(request, session, engine, cursor=cursor, notice=NOTICES.get(done or ""))


@router.post("/secrets")
async def set_secret(request: Request, session: AdminChange, engine: Engined) -> Response:
    values = await form(request)
    name = text_field(values, "name")
    value = values.get("value")
    try:
        await engine.secrets.set(session.org, name, value if isinstance(value, str) else "")
    except PlaitError as exc:
        return await _page(request, session, engine, status=422, typed={"name": name},
                           problems=problems_of(exc, FIELDS))  # fmt: skip
    return done("/secrets", "set")


@router.post("/secrets/{name}/delete")
async def delete_secret(name: str, session: AdminChange, engine: Engined) -> Response:
    await engine.secrets.delete(session.org, name)
    return done("/secrets", "deleted")


async def _page(
    request: Request, session: Session, engine: Engine, *, cursor: str | None = None,
    status: int = 200, typed: dict[str, str] | None = None,
    problems: dict[str, str] | None = None, notice: str | None = None,
) -> Response:  # fmt: skip
    found = await engine.secrets.find(session.org, limit=PAGE_SIZE, cursor=cursor)
    return page(request, "admin/secrets.html", session, section="secrets", status=status,
                secrets=found.items, next_cursor=found.next_cursor, typed=typed or {},
                problems=problems or {}, notice=notice)  # fmt: skip
