"""Signing in with an API key, and out."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from plait.console.render import page
from plait.console.session import Refused, Session
from plait.console.web import Engined, change, console_router, sessions_of

router = console_router()


@router.get("/login")
async def login_form(request: Request, next: str = "/") -> Response:
    sessions = sessions_of(request)
    if await sessions.current(request) is not None:
        return RedirectResponse(_local(next), status_code=303)
    token, cookie = sessions.login_token(request)
    response = page(request, "login.html", None, csrf=token, next=_local(next), error=None)
    if cookie is not None:
        sessions.set_login_cookie(response, request, cookie)
    return response


@router.post("/login")
async def sign_in(
    request: Request,
    engine: Engined,
    key: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    sessions = sessions_of(request)
    sessions.check_login_token(request, csrf)
    found = await engine.keys.authenticate(key.strip()) if key.strip() else None
    if found is None:
        return page(request, "login.html", None, status=401, csrf=csrf, next=_local(next),
                    error="That API key is not valid, or it has been revoked.")  # fmt: skip
    redirect = RedirectResponse(_local(next), status_code=303)
    sessions.issue(redirect, request, found.organization, found.id)
    return redirect


@router.post("/logout")
async def sign_out(
    request: Request, session: Annotated[Session, Depends(change("viewer"))]
) -> Response:
    response = RedirectResponse("/login", status_code=303)
    sessions_of(request).end(response)
    return response


def _local(target: str) -> str:
    """``target`` if it is a path of this console, else ``/`` (no open redirect)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(c) < 32 for c in target):
        raise Refused("The address to return to is not valid.", 400)
    return target
