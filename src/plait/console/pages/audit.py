"""``/audit`` (admins): the organization's audit trail, newest first, a page at a time, as
``GET /~{org}/audit`` answers it; every filter is in the query string."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from starlette.responses import Response

from plait.console.render import page
from plait.console.session import Session
from plait.console.web import Engined, console_router, role
from plait.resources.audit import AuditEntry, AuditPage
from plait.service.audit import AuditQueryInvalid

router = console_router()

PAGE_SIZE = 50
FILTERS = ("actor", "verb", "type", "resource", "since", "until")
TYPES = ("workflow", "run", "task", "schedule", "webhook", "key", "secret", "instance", "event")
"""Resource types offered by the filter (any other can be typed in the query string)."""

Admin = Annotated[Session, Depends(role("admin"))]


@router.get("/audit")
async def audit(request: Request, session: Admin, engine: Engined,
                cursor: str | None = None) -> Response:  # fmt: skip
    chosen = {name: request.query_params.get(name, "").strip() for name in FILTERS}
    problems: dict[str, str] = {}
    found = AuditPage(items=[], next_cursor=None)
    try:
        found = await engine.audit.list(
            session.org, actor=chosen["actor"] or None, verb=chosen["verb"] or None,
            type=chosen["type"] or None, resource=chosen["resource"] or None,
            since=chosen["since"] or None, until=chosen["until"] or None, limit=PAGE_SIZE,
            cursor=cursor or None,
        )  # fmt: skip
    except AuditQueryInvalid as exc:
        problems[exc.parameter] = exc.reason
    kept = {name: value for name, value in chosen.items() if value}
    return page(request, "admin/audit.html", session, section="audit",
                status=422 if problems else 200, entries=found.items,
                next_cursor=found.next_cursor, chosen=chosen, kept=kept, types=TYPES,
                problems=problems, link=link)  # fmt: skip


def link(entry: AuditEntry) -> str | None:
    """The console page of an entry's resource, where one exists."""
    kind, ident = entry.resource.type, entry.resource.id
    if ident in ("", "-"):
        return None
    if kind == "workflow":
        return f"/workflows/{quote(ident, safe='')}"
    if kind == "run":
        return f"/runs/{quote(ident, safe='')}"
    if kind == "instance" and "/" in ident:
        workflow, key = ident.split("/", 1)
        return f"/machines/{quote(workflow, safe='')}/{quote(key, safe='/')}"
    pages = {"schedule": "/schedules", "webhook": "/webhooks", "key": "/keys",
             "secret": "/secrets", "task": "/inbox"}  # fmt: skip
    return pages.get(kind)
