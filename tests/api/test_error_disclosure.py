"""Error disclosure by role and secrets kept out of logs (issue 10, break 8): tracebacks only for
editor and admin keys; declarative steps record their definition path, not the engine's frames;
API keys refused in query strings; the access log of `plait serve` redacts credentials."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from plait import Context, Engine
from plait.errors import WorkflowFailed
from plait.resources.keys import ROLES
from tests.api.conftest import bearer, up, wait_until


async def _keys(engine: Engine, org: str = "default") -> dict[str, dict[str, str]]:
    """Headers with a key of each role of ``org`` (code workflows run in ``default``)."""
    made = {role: await engine.keys.create(org, role) for role in ROLES}
    return {role: bearer(new.key) for role, new in made.items()}


async def _failed_run(engine: Engine, workflow: str, *args: Any) -> str:
    await engine.start_worker()
    handle = await engine.start(workflow, *args)
    with pytest.raises(WorkflowFailed):
        await handle.result(timeout=30)
    return handle.id


def _errors(run: dict[str, Any]) -> list[dict[str, Any]]:
    return [run["error"], *(s["error"] for s in run["steps"] if s["error"])]


async def test_only_editors_and_admins_see_tracebacks(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    @engine.workflow("ledger")
    async def ledger(ctx: Context) -> None:
        async def balance() -> None:
            raise ValueError("the ledger is out of balance")

        await ctx.step("balance", balance)

    run_id = await _failed_run(engine, "ledger")
    keys = await _keys(engine)
    for role, headers in keys.items():
        got = await client.get(f"/~default/runs/{run_id}", headers=headers)
        listed = await client.get("/~default/runs", headers=headers)
        for run, count in ((got.json(), 2), (listed.json()["items"][0], 1)):  # pages: no steps
            errors = _errors(run)
            assert len(errors) == count
            for error in errors:
                assert error["type"] == "ValueError"
                assert error["message"] == "the ledger is out of balance"
                assert ("traceback" in error) is (role in ("editor", "admin")), role
        if role in ("viewer", "runner"):
            assert "Traceback" not in got.text and ".py" not in got.text, role
        else:
            assert "raise ValueError(" in got.json()["steps"][0]["error"]["traceback"]


async def test_a_failed_childs_nested_traceback_is_hidden_from_viewers(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    """A failed child's error is nested under the parent's ``cause``: hidden there too."""

    @engine.workflow("kid")
    async def kid(ctx: Context) -> None:
        def broken() -> None:
            raise ValueError("the kid broke")

        await ctx.step("break", broken)

    @engine.workflow("parent")
    async def parent(ctx: Context) -> None:
        await ctx.child(kid)

    run_id = await _failed_run(engine, "parent")
    keys = await _keys(engine)
    viewer = await client.get(f"/~default/runs/{run_id}", headers=keys["viewer"])
    assert viewer.status_code == 200
    assert "the kid broke" in viewer.text
    assert "Traceback" not in viewer.text and ".py" not in viewer.text
    admin = await client.get(f"/~default/runs/{run_id}", headers=keys["admin"])
    assert "Traceback" in admin.text


async def test_a_declarative_step_records_its_definition_path_not_engine_frames(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    engine.define({"name": "greet", "steps": [
        {"id": "hello", "action": "log", "mapping": {"message": "'hi'"}},
        {"id": "send", "action": "log", "mapping": {"message": "input.contact.email"}},
    ]})  # fmt: skip
    run_id = await _failed_run(engine, "greet", {"name": "Ada"})
    admin = (await _keys(engine))["admin"]
    got = await client.get(f"/~default/runs/{run_id}", headers=admin)
    [step] = [s for s in got.json()["steps"] if s["key"] == "send"]
    assert step["error"] == {
        "type": "plait.expressions.templates.TemplateError",
        "message": "field 'message': expression 'input.contact.email' failed: "
        "no key 'contact' in input (it has 'name')",
        "path": "$.steps[1].mapping.message",
    }
    assert got.json()["error"]["path"] == "$.steps[1].mapping.message"
    assert "Traceback" not in got.text and ".py" not in got.text  # not even for an admin


@pytest.mark.parametrize("parameter", ["key", "api_key", "token", "access_token", "Key"])
async def test_api_keys_in_query_strings_are_refused(
    client: httpx.AsyncClient, admin: dict[str, str], parameter: str
) -> None:
    key = admin["Authorization"].removeprefix("Bearer ")
    for headers in (admin, {}):  # with or without the header too
        refused = await client.get(f"/~acme/runs?limit=1&{parameter}={key}", headers=headers)
        assert refused.status_code == 400, refused.text
        problem = refused.json()
        assert problem["type"] == "urn:plait:problem:key-in-query"
        assert "Authorization: Bearer" in problem["detail"]
        assert problem["errors"][0]["path"] == f"$.query.{parameter}"
        assert key not in refused.text


def test_the_access_log_of_plait_serve_holds_no_credential(
    server: tuple[subprocess.Popen[bytes], str, str], tmp_path: Path
) -> None:
    _, base, key = server
    wait_until(lambda: up(base), "the server")
    with httpx.Client(base_url=base, timeout=10) as http:
        assert http.get(f"/~acme/workflows?key={key}").status_code == 400
        token = "tok-3f9a1c-never-logged"
        assert http.get(f"/~acme/runs?access_token={token}", headers=bearer(key)).status_code == 400
        password = "hunter2-never-logged"
        assert http.get(f"/healthz?password={password}&probe=1").status_code == 200
        assert http.get("/~acme/runs", headers=bearer(key)).status_code == 200
    log = tmp_path / "serve.log"
    wait_until(lambda: "probe=1" in log.read_text(errors="replace"), "the access log line")
    text = log.read_text(errors="replace")
    assert "GET /healthz?password=[redacted]&probe=1" in text
    assert "GET /~acme/workflows?key=[redacted]" in text
    for secret in (key, key.split("_")[-1], token, password):
        assert secret not in text


async def test_what_a_run_publishes_is_never_rewritten(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    published = {"error": {"type": "Bounce", "message": "mailbox full", "traceback": "line 3"}}

    @engine.workflow("mailer")
    async def mailer(ctx: Context) -> None:
        await ctx.set_state("last", published)

    await engine.start_worker()
    handle = await engine.start("mailer")
    await handle.result(timeout=30)
    keys = await _keys(engine)
    for role in ("viewer", "runner"):
        got = await client.get(f"/~default/runs/{handle.id}", headers=keys[role])
        assert got.status_code == 200, got.text
        assert got.json()["state"] == {"last": published}, role
