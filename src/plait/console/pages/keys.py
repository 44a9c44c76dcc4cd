"""``/keys`` (admins): the organization's API keys; create one (shown once, on the answer to the
form) and revoke one, as ``/~{org}/keys`` does. Revoking the key of one's own session ends the
session: the next page load asks to sign in again."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from plait.console.pages.admin import GENERAL, done, problems_of, text_field
from plait.console.render import page
from plait.console.session import Session
from plait.console.web import Engined, change, console_router, form, role
from plait.engine import Engine
from plait.errors import PlaitError
from plait.resources.keys import ROLES, NewKey
from plait.service.keys import InvalidRole, InvalidUser

router = console_router()

PAGE_SIZE = 200
FIELDS = ("role", "user")
NOTICES = {"revoked": "The key was revoked: requests and sessions with it are refused from now on."}

Admin = Annotated[Session, Depends(role("admin"))]
AdminChange = Annotated[Session, Depends(change("admin"))]


@router.get("/keys")
async def keys(
    request: Request, session: Admin, engine: Engined, cursor: str | None = None,
    done: str | None = None,
) -> Response:  # fmt: skip
    return await _page(request, session, engine, cursor=cursor, notice=NOTICES.get(done or ""))


@router.post("/keys")
async def create_key(request: Request, session: AdminChange, engine: Engined) -> Response:
    values = await form(request)
    typed = {name: text_field(values, name) for name in FIELDS}
    try:
        created = await engine.keys.create(session.org, typed["role"], user=typed["user"] or None)
    except PlaitError as exc:
        at = {InvalidRole: "role", InvalidUser: "user"}.get(type(exc), GENERAL)
        return await _page(request, session, engine, status=422, typed=typed,
                           problems=problems_of(exc, FIELDS, at))  # fmt: skip
    return await _page(request, session, engine, status=201, created=created)


@router.post("/keys/{key_id}/revoke")
async def revoke_key(key_id: str, session: AdminChange, engine: Engined) -> Response:
    await engine.keys.revoke(session.org, key_id)
    return done("/keys", "revoked")


async def _page(
    request: Request, session: Session, engine: Engine, *, cursor: str | None = None,
    status: int = 200, typed: dict[str, str] | None = None,
    problems: dict[str, str] | None = None, notice: str | None = None,
    created: NewKey | None = None,
) -> Response:  # fmt: skip
    found = await engine.keys.find(session.org, limit=PAGE_SIZE, cursor=cursor)
    return page(request, "admin/keys.html", session, section="keys", status=status,
                keys=found.items, next_cursor=found.next_cursor, roles=ROLES,
                typed=typed or {"role": "viewer"}, problems=problems or {}, notice=notice,
                created=created)  # fmt: skip
