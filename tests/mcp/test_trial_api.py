"""``POST /~{org}/workflows/test``: the REST twin of the MCP ``test_workflow`` tool (both call
``engine.workflow_tests.trial``): a definition that is not stored, tested with its scenarios on
throwaway engines; nothing of the organization changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from plait import Engine
from plait.api import create_app
from tests.backends import BACKENDS, database_url
from tests.mcp.flows import BROKEN, greeting

SAYS_HELLO = {"name": "says hello", "input": {"who": "Ann"},
              "expect": {"status": "succeeded", "steps": {"hello": "completed"}}}  # fmt: skip


@pytest.fixture(params=BACKENDS)
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Engine]:
    with database_url(request.param, tmp_path) as url:
        engine = Engine(url)
        try:
            yield engine
        finally:
            await engine.close()


@pytest.fixture
async def post(engine: Engine) -> AsyncIterator[Any]:
    app = create_app(engine, console=False, mcp=False)
    async with app.router.lifespan_context(app):
        keys = {role: (await engine.keys.create("acme", role)).key
                for role in ("viewer", "editor")}  # fmt: skip
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://plait.test") as client:

            async def send(role: str, body: Any) -> httpx.Response:
                return await client.post(
                    "/~acme/workflows/test",
                    json=body,
                    headers={"Authorization": f"Bearer {keys[role]}"},
                )

            yield send


async def test_a_draft_is_tested_without_being_stored(engine: Engine, post: Any) -> None:
    passing = await post("editor", {**greeting("greet"), "tests": {"scenarios": [SAYS_HELLO]}})
    assert passing.status_code == 200, passing.text
    report = passing.json()
    assert report["passed"] is True and report["workflow"] == "greet"
    failing = {**SAYS_HELLO, "name": "wrong", "expect": {"status": "failed"}}
    failed = (await post("editor", {**greeting("greet"), "tests": [failing]})).json()
    assert failed["passed"] is False and failed["results"][0]["failures"]
    assert (await engine.workflows.find("acme")).items == []
    assert (await engine.runs.find("acme")).items == []


async def test_what_cannot_be_tested(post: Any) -> None:
    broken = await post("editor", {**BROKEN, "tests": [SAYS_HELLO]})
    assert broken.status_code == 422
    paths = {e["path"] for e in broken.json()["errors"]}
    assert "$.body.steps[0].dependsOn[0]" in paths
    unknown_step = {**SAYS_HELLO, "expect": {"steps": {"nope": "completed"}}}
    misfit = await post("editor", {**greeting("greet"), "tests": [unknown_step]})
    assert misfit.status_code == 422
    assert [e["path"] for e in misfit.json()["errors"]] == [
        "$.body.tests.scenarios[0].expect.steps.nope"
    ]
    untested = await post("editor", greeting("greet"))
    assert untested.status_code == 404 and untested.json()["type"].endswith("no-tests")
    viewer = await post("viewer", {**greeting("greet"), "tests": [SAYS_HELLO]})
    assert viewer.status_code == 403
