"""``/~{org}/workflows/{id}/tests``: a stored workflow's test scenarios (docs/testing.md): read
them, replace them (a new version of the workflow), run them on throwaway engines; and
``POST /~{org}/workflows/test``: run the scenarios of a definition that is not stored."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from plait.api.auth import Editor, EngineDep, Viewer
from plait.api.models import WorkflowBody
from plait.api.problems import CONFLICTS, PROBLEM_RESPONSES, WITH_BODY
from plait.api.render import Json
from plait.resources.scenario_reports import ScenarioReport
from plait.resources.scenarios import Scenarios
from plait.resources.workflows import SavedWorkflow

router = APIRouter(
    prefix="/~{org}/workflows/{workflow_id}/tests", tags=["workflows"], responses=PROBLEM_RESPONSES
)
drafts = APIRouter(prefix="/~{org}/workflows", tags=["workflows"], responses=PROBLEM_RESPONSES)


@router.get(
    "", response_model=Scenarios, summary="The workflow's test scenarios ({scenarios, required})"
)
async def get_tests(caller: Viewer, engine: EngineDep, workflow_id: str) -> Json:
    return Json(await engine.workflow_tests.get(caller.org, workflow_id))


@router.put(
    "",
    response_model=SavedWorkflow,
    summary="Replace the test scenarios (a new version of the workflow)",
    responses={**WITH_BODY, **CONFLICTS},
)
async def put_tests(
    caller: Editor,
    engine: EngineDep,
    workflow_id: str,
    body: Annotated[Any, Body(description="{scenarios: [...], required?}, or the list.")],
) -> Json:
    saved = await engine.workflow_tests.put(caller.org, workflow_id, body)
    return Json(saved.wire())


@router.post(
    "/run",
    response_model=ScenarioReport,
    summary="Run the test scenarios now, each on a throwaway engine, and report",
)
async def run_tests(caller: Editor, engine: EngineDep, workflow_id: str) -> Json:
    return Json((await engine.workflow_tests.run(caller.org, workflow_id)).wire())


@drafts.post(
    "/test",
    response_model=ScenarioReport,
    summary="Test a definition that is not stored: run its tests' scenarios, each on a "
    "throwaway engine, and report",
    responses=WITH_BODY,
)
async def try_definition(caller: Editor, engine: EngineDep, body: WorkflowBody) -> Json:
    document = body.model_dump(exclude_unset=True, by_alias=True)
    return Json((await engine.workflow_tests.trial(caller.org, document)).wire())
