"""``plait serve`` and ``plait keys`` for real: a server subprocess with its worker, a key made by
the CLI, an event that runs a workflow to its end, then SIGTERM and a clean exit."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import (
    DEADLINE,
    PLAIT,
    WELCOME,
    bearer,
    env_without_plait,
    up,
    wait_until,
)

pytestmark = pytest.mark.timeout(60)


def test_serve_runs_the_api_and_a_worker_and_stops_on_sigterm(
    server: tuple[subprocess.Popen[bytes], str, str], tmp_path: Path
) -> None:
    child, base, key = server
    wait_until(lambda: up(base) or child.poll() is not None, "the server to listen")
    assert child.poll() is None, (tmp_path / "serve.log").read_text()
    with httpx.Client(base_url=base, headers=bearer(key), timeout=10.0) as api:
        workflow = api.post("/~acme/workflows", json=WELCOME).json()
        api.post(f"/~acme/workflows/{workflow['$id']}/activate").raise_for_status()
        event = api.post(
            "/~acme/events",
            json={"type": "Customer.created", "data": {"$id": "customer_1", "name": "Ada"}},
        )
        [run_id] = event.json()["runs"]

        def finished() -> bool:
            return bool(api.get(f"/~acme/runs/{run_id}").json()["status"] == "succeeded")

        wait_until(finished, "the worker to run the workflow")
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=DEADLINE) == 0, (tmp_path / "serve.log").read_text()


def test_keys_cli_lists_and_revokes(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'keys.db'}"

    def plait(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*PLAIT, "keys", *args, "--db", db], capture_output=True,
                              text=True, env=env_without_plait(), cwd=tmp_path,
                              timeout=DEADLINE)  # fmt: skip

    made = json.loads(plait("create", "--org", "acme", "--role", "runner", "--json").stdout)
    assert set(made) >= {"$id", "organization", "role", "key"} and made["organization"] == "acme"
    listed = json.loads(plait("list", "--org", "acme", "--json").stdout)["items"]
    shown = [(k["$id"], k["role"], k["revokedAt"]) for k in listed]
    assert shown == [(made["$id"], "runner", None)]
    assert made["key"] not in plait("list", "--org", "acme").stdout
    assert plait("revoke", made["$id"], "--org", "globex").returncode == 3
    revoked = json.loads(plait("revoke", made["$id"], "--org", "acme", "--json").stdout)
    assert revoked["$id"] == made["$id"] and revoked["revokedAt"] is not None
    assert "key" not in revoked  # the secret itself is never shown again
    [listed_key] = json.loads(plait("list", "--org", "acme", "--json").stdout)["items"]
    assert listed_key == revoked
    assert plait("create", "--role", "owner").returncode == 2
