"""``/~{org}/webhooks``: manage webhooks (admin), and receive signed requests (no API key: the
signature is the authentication)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from plait.api.auth import Admin, EngineDep, Viewer
from plait.api.models import PageQuery, WebhookBody
from plait.api.problems import CONFLICTS, PROBLEM_RESPONSES, WITH_BODY
from plait.api.render import Json, no_content
from plait.resources.webhooks import Webhook, WebhookPage, WebhookReceipt

router = APIRouter(prefix="/~{org}/webhooks", tags=["webhooks"], responses=PROBLEM_RESPONSES)

_RAW_BODY: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "description": "Any body, verified byte for byte against the signature headers.",
        "content": {"application/json": {"schema": {}}, "*/*": {"schema": {}}},
    }
}


@router.get("", response_model=WebhookPage, summary="List webhooks by name (secrets never shown)")
async def list_webhooks(
    caller: Viewer, engine: EngineDep, query: Annotated[PageQuery, Query()]
) -> Json:
    page = await engine.webhooks.find(caller.org, limit=query.limit, cursor=query.cursor)
    return Json(page.wire())


@router.post(
    "",
    response_model=Webhook,
    status_code=201,
    summary="Create a webhook",
    responses={**WITH_BODY, **CONFLICTS},
)
async def create_webhook(caller: Admin, engine: EngineDep, body: WebhookBody) -> Json:
    webhook = await engine.webhooks.create(caller.org, body.model_dump(exclude_none=True))
    return Json(webhook.wire(), 201)


@router.delete("/{name}", status_code=204, summary="Delete a webhook")
async def delete_webhook(caller: Admin, engine: EngineDep, name: str) -> Response:
    await engine.webhooks.delete(caller.org, name)
    return no_content()


@router.post(
    "/{name}",
    response_model=WebhookReceipt,
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
    receipt = await engine.webhooks.receive(org, name, dict(request.headers), body)
    return Json(receipt.wire(), 202)
