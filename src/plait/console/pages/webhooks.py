"""``/webhooks``: the organization's webhooks, the URL each is called at, and the events they
delivered lately; admins create and delete them (as ``/~{org}/webhooks`` does, with the same
role). A created webhook's signing secret is shown once, on the answer to the form."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.responses import Response

from plait.console.pages.admin import done, problems_of, text_field
from plait.console.render import page
from plait.console.session import Session
from plait.console.web import Engined, Signed, change, console_router, form
from plait.engine import Engine
from plait.errors import PlaitError
from plait.resources.events import Event
from plait.resources.webhooks import Webhook

router = console_router()

PAGE_SIZE = 100
DELIVERIES_SHOWN = 5
EVENTS_READ = 50
SECRET_BYTES = 32
FIELDS = ("name", "scheme", "eventType", "mapping", "secret")
SCHEMES = ("hmac-sha256", "stripe", "github")
NOTICES = {"deleted": "The webhook was deleted; requests to its URL are now refused."}


@router.get("/webhooks")
async def webhooks(
    request: Request, session: Signed, engine: Engined, cursor: str | None = None,
    done: str | None = None,
) -> Response:  # fmt: skip
    return await _page(request, session, engine, cursor=cursor, notice=NOTICES.get(done or ""))


@router.post("/webhooks")
async def create_webhook(
    request: Request, session: Annotated[Session, Depends(change("admin"))], engine: Engined
) -> Response:
    values = await form(request)
    typed = {name: text_field(values, name) for name in FIELDS}
    # The console proposes a strong secret when none is typed; either way it is shown once.
    secret = typed["secret"] or secrets.token_urlsafe(SECRET_BYTES)
    body: dict[str, Any] = {"name": typed["name"], "scheme": typed["scheme"] or SCHEMES[0],
                            "secret": secret}  # fmt: skip
    if typed["mapping"]:
        body["mapping"] = typed["mapping"]
    if typed["eventType"] or not typed["mapping"]:
        body["eventType"] = typed["eventType"]
    try:
        created = await engine.webhooks.create(session.org, body)
    except PlaitError as exc:
        typed["secret"] = ""  # never sent back in the page
        return await _page(request, session, engine, status=422, typed=typed,
                           problems=problems_of(exc, FIELDS))  # fmt: skip
    return await _page(request, session, engine, status=201, created=created,
                       created_secret=secret)  # fmt: skip


@router.post("/webhooks/{name}/delete")
async def delete_webhook(
    name: str, session: Annotated[Session, Depends(change("admin"))], engine: Engined
) -> Response:
    await engine.webhooks.delete(session.org, name)
    return done("/webhooks", "deleted")


async def _page(
    request: Request, session: Session, engine: Engine, *, cursor: str | None = None,
    status: int = 200, typed: dict[str, str] | None = None,
    problems: dict[str, str] | None = None, notice: str | None = None,
    created: Webhook | None = None, created_secret: str | None = None,
) -> Response:  # fmt: skip
    found = await engine.webhooks.find(session.org, limit=PAGE_SIZE, cursor=cursor)
    deliveries = {w.name: await _deliveries(engine, session.org, w) for w in found.items}
    base = str(request.base_url).rstrip("/")
    return page(request, "admin/webhooks.html", session, section="webhooks", status=status,
                webhooks=found.items, next_cursor=found.next_cursor, deliveries=deliveries,
                base=base, schemes=SCHEMES, typed=typed or {"scheme": SCHEMES[0]},
                problems=problems or {}, notice=notice, created=created,
                created_secret=created_secret)  # fmt: skip


async def _deliveries(engine: Engine, org: str, webhook: Webhook) -> list[Event] | None:
    """The latest events a webhook of this event type delivered (``None`` for a webhook with a
    mapping: its events' types vary, and events do not record which webhook emitted them)."""
    if webhook.event_type is None:
        return None
    events = await engine.events.find(org, type=webhook.event_type, limit=EVENTS_READ)
    return [e for e in events.items if e.source == "webhook"][:DELIVERIES_SHOWN]
