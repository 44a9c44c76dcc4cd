"""``/~{org}/circuits``: the organization's circuit breakers, and their manual reset
(docs/flow-control.md). Reading needs viewer; a reset changes how runs behave: editor. A name
may hold "/" (a step's own limits are named ``{workflow}/{step}``): the reset route comes
first, so that ``.../{name}/reset`` is the reset of ``name``."""

from __future__ import annotations

from fastapi import APIRouter

from plait.api.auth import Editor, EngineDep, Viewer
from plait.api.problems import PROBLEM_RESPONSES
from plait.api.render import Json
from plait.resources.circuits import Circuit, CircuitList

router = APIRouter(prefix="/~{org}/circuits", tags=["circuits"], responses=PROBLEM_RESPONSES)


@router.get("", response_model=CircuitList, summary="List circuit breakers and their state")
async def list_circuits(caller: Viewer, engine: EngineDep) -> Json:
    return Json((await engine.circuits.list(caller.org)).wire())


@router.post(
    "/{name:path}/reset",
    response_model=Circuit,
    summary="Close a circuit breaker now (manual reset)",
)
async def reset_circuit(caller: Editor, engine: EngineDep, name: str) -> Json:
    return Json((await engine.circuits.reset(caller.org, name)).wire())


@router.get("/{name:path}", response_model=Circuit, summary="A circuit breaker's state")
async def get_circuit(caller: Viewer, engine: EngineDep, name: str) -> Json:
    return Json((await engine.circuits.get(caller.org, name)).wire())
