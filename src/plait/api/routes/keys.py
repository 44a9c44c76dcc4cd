"""``/~{org}/keys``: API keys of the organization (admin only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from plait.api.auth import Admin, EngineDep
from plait.api.models import KeyBody, KeyList, NewKeyOut, PageQuery
from plait.api.problems import PROBLEM_RESPONSES, WITH_BODY
from plait.api.render import Json, no_content
from plait.keys import create_key, list_keys, revoke_key
from plait.service.pages import paginate

router = APIRouter(prefix="/~{org}/keys", tags=["keys"], responses=PROBLEM_RESPONSES)


@router.get("", response_model=KeyList, summary="List API keys (never the keys themselves)")
async def list_api_keys(
    caller: Admin, engine: EngineDep, query: Annotated[PageQuery, Query()]
) -> Json:
    found = await list_keys(await engine.opened_store(), caller.org)
    page = paginate([dict(k.resource()) for k in found], sort="createdAt", limit=query.limit,
                    cursor=query.cursor)  # fmt: skip
    return Json(page.to_dict())


@router.post(
    "", response_model=NewKeyOut, status_code=201, summary="Create an API key", responses=WITH_BODY
)
async def create_api_key(caller: Admin, engine: EngineDep, body: KeyBody) -> Json:
    store = await engine.opened_store()
    new = await create_key(store, caller.org, body.role, now=engine.clock.time(), user=body.user)
    return Json({**new.record.resource(), "key": new.key}, 201)


@router.delete("/{key_id}", status_code=204, summary="Revoke an API key")
async def revoke_api_key(caller: Admin, engine: EngineDep, key_id: str) -> Response:
    await revoke_key(await engine.opened_store(), caller.org, key_id, now=engine.clock.time())
    return no_content()
