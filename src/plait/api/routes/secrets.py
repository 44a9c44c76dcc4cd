"""``/~{org}/secrets``: the organization's secrets, write-only (no route returns a value).

Setting and deleting a secret needs the admin role; listing names needs editor (editors write
the definitions that read them). See docs/security.md.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from plait.api.auth import Admin, Editor, EngineDep
from plait.api.models import PageQuery, SecretBody
from plait.api.problems import CONFLICTS, PROBLEM_RESPONSES, WITH_BODY
from plait.api.render import Json, no_content
from plait.resources.secrets import Secret, SecretPage

router = APIRouter(prefix="/~{org}/secrets", tags=["secrets"], responses=PROBLEM_RESPONSES)


@router.get("", response_model=SecretPage, summary="List secrets by name (never their values)")
async def list_secrets(
    caller: Editor, engine: EngineDep, query: Annotated[PageQuery, Query()]
) -> Json:
    page = await engine.secrets.find(caller.org, limit=query.limit, cursor=query.cursor)
    return Json(page.wire())


@router.post(
    "",
    response_model=Secret,
    status_code=201,
    summary="Create (201) or replace (200) a secret",
    responses={200: {"description": "Replaced", "model": Secret}, **WITH_BODY, **CONFLICTS},
)
async def set_secret(caller: Admin, engine: EngineDep, body: SecretBody) -> Json:
    done = await engine.secrets.set(caller.org, body.name, body.value)
    return Json(done.secret.wire(), 201 if done.created else 200)


@router.get("/{name}", response_model=Secret, summary="A secret's name and timestamps")
async def get_secret(caller: Editor, engine: EngineDep, name: str) -> Json:
    return Json((await engine.secrets.get(caller.org, name)).wire())


@router.delete("/{name}", status_code=204, summary="Delete a secret")
async def delete_secret(caller: Admin, engine: EngineDep, name: str) -> Response:
    await engine.secrets.delete(caller.org, name)
    return no_content()
