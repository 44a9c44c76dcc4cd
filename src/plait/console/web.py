"""What every console route shares: the route class that turns errors into pages, and the
dependencies that say who is asking and whether they may.

    router = console_router()

    @router.get("/runs")
    async def runs(request: Request, session: Signed) -> HTMLResponse: ...

    @router.post("/runs/{run_id}/cancel")
    async def cancel(request: Request, session: Annotated[Session, Depends(change("runner"))]): ...

A route raises what the services raise; :class:`ConsoleRoute` renders it as a page with the
status the REST API would answer (``plait.api.problems.status_of``): no session sends the browser
to the sign-in form (htmx requests get ``HX-Redirect``), a refusal shows why, a missing
resource shows a 404 page, invalid input shows its problems at their paths.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.responses import RedirectResponse, Response

from plait.api.problems import error_items, status_of
from plait.api.render import disclose_for
from plait.console.render import page
from plait.console.session import (
    CSRF_FIELD,
    Refused,
    Session,
    Sessions,
    SignInNeeded,
    check_change,
)
from plait.engine import Engine
from plait.errors import PlaitError
from plait.resources.keys import Role
from plait.service.audit import Actor, current_actor, rebind

log = logging.getLogger(__name__)


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def sessions_of(request: Request) -> Sessions:
    sessions: Sessions = request.app.state.console_sessions
    return sessions


class ConsoleRoute(APIRoute):
    """A console route: its errors are pages, not problem documents."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handler(request: Request) -> Response:
            before = current_actor()
            try:
                return await handle(request)
            except SignInNeeded:
                return _to_sign_in(request)
            except Refused as exc:
                return error_page(request, exc.status, exc.message)
            except RequestValidationError as exc:  # a query parameter or field of a bad type
                return error_page(request, 422, "The address or the form holds a value this "
                                  "page cannot use.", problems=_invalid(exc))  # fmt: skip
            except PlaitError as exc:
                status = status_of(exc)
                if status >= 500:
                    raise
                return error_page(request, status, str(exc), problems=error_items(exc))
            finally:
                rebind(before)  # the session's actor was for this request only

        return handler


def _invalid(exc: RequestValidationError) -> list[dict[str, str]]:
    """``[{path, message}]`` of a request's invalid parameters (``$.query.version``)."""
    return [{"path": "$." + ".".join(str(p) for p in error.get("loc", ())),
             "message": str(error.get("msg", "is not valid"))}
            for error in exc.errors()]  # fmt: skip


def console_router() -> APIRouter:
    """A router for console pages (left out of the API's OpenAPI document)."""
    return APIRouter(route_class=ConsoleRoute, include_in_schema=False)


async def signed_in(request: Request) -> Session:
    """The request's live session, or :class:`SignInNeeded`."""
    session = await sessions_of(request).current(request)
    if session is None:
        raise SignInNeeded
    request.state.session = session
    disclose_for(session.role)  # recorded errors are shown as the REST API shows them
    return session


Signed = Annotated[Session, Depends(signed_in)]
"""A route parameter: the signed-in session (any role)."""


def change(role: Role) -> Callable[..., Awaitable[Session]]:
    """A dependency for a form that changes something: a session whose key has ``role`` or
    above, and the form's CSRF token. A refusal for the role is recorded in the audit trail."""

    async def allowed(request: Request, session: Signed) -> Session:
        sent = await _form_token(request)
        check_change(request, session, sent)
        if not session.can(role):
            await _audit_denied(request, session)
            raise Refused(f"This needs the {role} role or above; you are signed in with a "
                          f"{session.role} key.")  # fmt: skip
        return session

    allowed.__name__ = f"console_{role}"
    return allowed


def role(needed: Role) -> Callable[..., Awaitable[Session]]:
    """A dependency for a page only ``needed`` or above may read (keys, secrets, audit)."""

    async def allowed(session: Signed) -> Session:
        if not session.can(needed):
            raise Refused(f"This page needs the {needed} role or above; you are signed in "
                          f"with a {session.role} key.")  # fmt: skip
        return session

    allowed.__name__ = f"console_read_{needed}"
    return allowed


async def form(request: Request) -> dict[str, Any]:
    """The request's form fields (a field sent several times: its last value; use
    :func:`form_lists` for multi-valued fields)."""
    return dict((await request.form()).items())


async def form_lists(request: Request, name: str) -> list[str]:
    """Every value of the form field ``name`` (checkboxes of a bulk action)."""
    return [str(v) for v in (await request.form()).getlist(name)]


def error_page(
    request: Request, status: int, message: str, problems: list[dict[str, str]] | None = None
) -> Response:
    session: Session | None = getattr(request.state, "session", None)
    return page(request, "error.html", session, status=status, message=message,
                problems=problems or [], code=status)  # fmt: skip


def _to_sign_in(request: Request) -> Response:
    target = "/login"
    if request.method == "GET" and request.url.path not in ("/", "/login"):
        wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target = f"/login?next={quote(wanted, safe='')}"
    if request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def _form_token(request: Request) -> str | None:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        sent = (await request.form()).get(CSRF_FIELD)
        return sent if isinstance(sent, str) else None
    return None


async def _audit_denied(request: Request, session: Session) -> None:
    engine = engine_of(request)
    route = request.scope.get("route")
    path = route.path if isinstance(route, APIRoute) else request.url.path
    literal = [part for part in path.strip("/").split("/") if part and not part.startswith("{")]
    # A form posted to a collection (``POST /schedules``) creates; others name their verb last.
    verb = literal[-1] if len(literal) > 1 else "create"
    resource_type = path.strip("/").split("/", 1)[0].rstrip("s") or "console"
    resource_id = next(iter(request.path_params.values()), "-")
    actor = Actor.of_key(session.key_id, session.role, session.user, interface="console",
                         address=request.client.host if request.client else None)  # fmt: skip
    await engine.audit.denied(session.org, actor, verb, resource_type, str(resource_id))


Engined = Annotated[Engine, Depends(engine_of)]
"""A route parameter: the engine whose services the console calls."""
