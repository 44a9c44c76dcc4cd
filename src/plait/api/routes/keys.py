"""``/~{org}/keys``: API keys of the organization (admin only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from plait.api.auth import Admin, EngineDep
from plait.api.models import KeyBody, PageQuery
from plait.api.problems import PROBLEM_RESPONSES, WITH_BODY
from plait.api.render import Json, no_content
from plait.resources.keys import KeyPage, NewKey

router = APIRouter(prefix="/~{org}/keys", tags=["keys"], responses=PROBLEM_RESPONSES)


@router.get("", response_model=KeyPage, summary="List API keys (never the keys themselves)")
async def list_api_keys(
    caller: Admin, engine: EngineDep, query: Annotated[PageQuery, Query()]
) -> Json:
    page = await engine.keys.find(caller.org, limit=query.limit, cursor=query.cursor)
    return Json(page.wire())


@router.post(
    "", response_model=NewKey, status_code=201, summary="Create an API key", responses=WITH_BODY
)
async def create_api_key(caller: Admin, engine: EngineDep, body: KeyBody) -> Json:
    new = await engine.keys.create(caller.org, body.role, user=body.user)
    return Json(new.wire(), 201)


@router.delete("/{key_id}", status_code=204, summary="Revoke an API key")
async def revoke_api_key(caller: Admin, engine: EngineDep, key_id: str) -> Response:
    await engine.keys.revoke(caller.org, key_id)
    return no_content()
