"""``/~{org}/webhooks``: manage webhooks (admin), and receive signed requests (no API key: the
signature is the authentication)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from plait.api.auth import Admin, EngineDep, Viewer
from plait.api.models import Accepted, PageQuery, WebhookBody, WebhookList, WebhookOut
from plait.api.problems import CONFLICTS, PROBLEM_RESPONSES, WITH_BODY
from plait.api.render import Json, no_content
from plait.service.pages import paginate

router = APIRouter(prefix="/~{org}/webhooks", tags=["webhooks"], responses=PROBLEM_RESPONSES)

_RAW_BODY: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "description": "Any body, verified byte for byte against the signature headers.",
        "content": {"application/json": {"schema": {}}, "*/*": {"schema": {}}},
    }
}


@router.get("", response_model=WebhookList, summary="List webhooks by name (secrets never shown)")
async def list_webhooks(
    caller: Viewer, engine: EngineDep, query: Annotated[PageQuery, Query()]
) -> Json:
    found = await engine.webhooks.list(caller.org)
    page = paginate(found, sort="name", limit=query.limit, cursor=query.cursor)
    return Json(page.to_dict())


@router.post(
    "",
    response_model=WebhookOut,
    status_code=201,
    summary="Create a webhook",
    responses={**WITH_BODY, **CONFLICTS},
)
async def create_webhook(caller: Admin, engine: EngineDep, body: WebhookBody) -> Json:
    return Json(await engine.webhooks.create(caller.org, body.model_dump(exclude_none=True)), 201)


@router.delete("/{name}", status_code=204, summary="Delete a webhook")
async def delete_webhook(caller: Admin, engine: EngineDep, name: str) -> Response:
    await engine.webhooks.delete(caller.org, name)
    return no_content()


@router.post(
    "/{name}",
    response_model=Accepted,
    status_code=202,
    summary="Receive a signed request (emits an event)",
    description="A request whose signature does not verify, or that names no webhook, gets "
    "the same 401 answer. A replay (a repeated event id, or signed content already accepted "
    "within the replay window, whatever its unsigned headers) gets 202 with the first "
    "delivery's event id and `duplicate: true`, and starts nothing.",
    openapi_extra=_RAW_BODY,
    responses=WITH_BODY,
)
async def receive_webhook(org: str, name: str, engine: EngineDep, request: Request) -> Json:
    body = await request.body()
    event = await engine.webhooks.receive(org, name, dict(request.headers), body)
    return Json({"$id": event["$id"], "duplicate": event["duplicate"]}, 202)
