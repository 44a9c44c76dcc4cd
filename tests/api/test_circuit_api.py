"""Circuit breakers over the REST API and the CLI on each backend: a stored workflow's step
with a ``circuitBreaker`` opens its organization's circuit (another organization's stays
untouched), viewers list it, editors reset it, an unknown circuit is a 404 problem, and
``plait circuits list|reset`` show and reset the same state."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import httpx

from plait import Engine
from tests.api.conftest import Keys, bearer
from tests.api.test_run_operations import until

FLOW = {
    "name": "Charge customer",
    "dialect": "canonical",
    "steps": [{"kind": "action", "id": "charge", "action": "charge",
               "circuitBreaker": {"failures": 1, "reset": 3600, "name": "payments"}}],
}  # fmt: skip


async def opened(client: httpx.AsyncClient, engine: Engine, admin: dict[str, str]) -> list[int]:
    calls: list[int] = []

    @engine.action("charge")
    async def charge(data: Any) -> Any:
        calls.append(1)
        raise ConnectionError("payments are down")

    await engine.start_worker()
    workflow = (await client.post("/~acme/workflows", headers=admin, json=FLOW)).json()
    await client.post(f"/~acme/workflows/{workflow['$id']}/activate", headers=admin)
    for _ in range(2):
        run = (await client.post(f"/~acme/workflows/{workflow['$id']}/trigger", headers=admin,
                                 json={"input": {}})).json()  # fmt: skip
        await until(client, admin, run["$id"], "failed")
    return calls


async def test_circuits_are_listed_and_reset_by_the_roles_allowed_to(
    client: httpx.AsyncClient, engine: Engine, keys: Keys, admin: dict[str, str]
) -> None:
    calls = await opened(client, engine, admin)
    assert calls == [1]  # the second run found the circuit open and did not call
    viewer, editor = bearer(keys["acme"]["viewer"]), bearer(keys["acme"]["editor"])
    listed = (await client.get("/~acme/circuits", headers=viewer)).json()
    [circuit] = listed["items"]
    assert (circuit["name"], circuit["state"], circuit["opens"]) == ("payments", "open", 1)
    assert circuit["lastError"] == "ConnectionError: payments are down"
    assert circuit["halfOpenAt"] is not None
    other = await client.get("/~globex/circuits", headers=bearer(keys["globex"]["viewer"]))
    assert other.json() == {"items": []}  # one tenant's failures never open another's

    one = await client.get("/~acme/circuits/payments", headers=viewer)
    assert one.json()["state"] == "open"
    refused = await client.post("/~acme/circuits/payments/reset", headers=viewer)
    assert refused.status_code == 403
    reset = await client.post("/~acme/circuits/payments/reset", headers=editor)
    assert reset.status_code == 200
    assert (reset.json()["state"], reset.json()["failures"]) == ("closed", 0)
    missing = await client.post("/~acme/circuits/nothing/reset", headers=editor)
    assert missing.status_code == 404
    assert "no circuit 'nothing'" in missing.json()["detail"]
    assert (await client.get("/~acme/circuits/nothing", headers=viewer)).status_code == 404


def cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
    return subprocess.run([sys.executable, "-m", "plait", "circuits", *args, "--db", url,
                           "--org", "acme"], capture_output=True, text=True, env=env,
                          timeout=60, check=False)  # fmt: skip


async def test_the_cli_lists_and_resets_circuits(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str]
) -> None:
    await opened(client, engine, admin)
    url = engine.settings.database_url
    shown = cli(url, "list")
    assert shown.returncode == 0, shown.stderr
    assert "payments" in shown.stdout and "open" in shown.stdout
    listed = json.loads(cli(url, "list", "--json").stdout)
    assert [(c["name"], c["state"]) for c in listed["items"]] == [("payments", "open")]
    reset = cli(url, "reset", "payments")
    assert reset.returncode == 0, reset.stderr
    assert "circuit payments of acme is closed" in reset.stdout
    missing = cli(url, "reset", "nothing")
    assert missing.returncode != 0 and "no circuit 'nothing'" in missing.stderr


async def test_a_step_s_own_circuit_is_named_after_the_step_and_reachable(
    client: httpx.AsyncClient, engine: Engine, keys: Keys, admin: dict[str, str]
) -> None:
    @engine.action("charge")
    async def charge(data: Any) -> Any:
        raise ConnectionError("payments are down")

    await engine.start_worker()
    flow = {**FLOW, "steps": [{**FLOW["steps"][0], "circuitBreaker": {"failures": 1}}]}
    workflow = (await client.post("/~acme/workflows", headers=admin, json=flow)).json()
    await client.post(f"/~acme/workflows/{workflow['$id']}/activate", headers=admin)
    run = (await client.post(f"/~acme/workflows/{workflow['$id']}/trigger", headers=admin,
                             json={"input": {}})).json()  # fmt: skip
    await until(client, admin, run["$id"], "failed")
    viewer, editor = bearer(keys["acme"]["viewer"]), bearer(keys["acme"]["editor"])
    [circuit] = (await client.get("/~acme/circuits", headers=viewer)).json()["items"]
    name = circuit["name"]
    assert name.endswith("/charge") and name != "charge"  # the step's own, not every "charge"
    one = await client.get(f"/~acme/circuits/{name}", headers=viewer)
    assert (one.status_code, one.json()["state"]) == (200, "open")
    assert 'plait_circuits{state="open"} 1.0' in (await client.get("/metrics")).text
    reset = await client.post(f"/~acme/circuits/{name}/reset", headers=editor)
    assert (reset.status_code, reset.json()["state"]) == (200, "closed")
