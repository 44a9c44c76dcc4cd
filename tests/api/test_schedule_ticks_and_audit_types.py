"""What the console's schedules and audit pages show, over the REST API and the shell too: a
schedule's last fired ticks with their runs and its next ticks (``GET
/~{org}/schedules/{id}/ticks``, ``plait schedules ticks``), and the audit trail filtered by
resource type (``?type=``, ``plait audit list --type``)."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import httpx

from plait import Engine
from tests.api.conftest import WELCOME, Keys, bearer


async def _scheduled(engine: Engine) -> str:
    created = await engine.workflows.create("acme", WELCOME)
    await engine.workflows.activate("acme", created.id)
    schedule = await engine.schedules.create("acme", {"workflow": created.id, "cron": "0 9 * * *",
                                                      "timezone": "Europe/Paris"})  # fmt: skip
    return schedule.id


async def test_a_schedules_ticks_show_its_fires_with_their_runs_and_its_next_ticks(
    client: httpx.AsyncClient, keys: Keys, engine: Engine
) -> None:
    schedule_id = await _scheduled(engine)
    viewer = bearer(keys["acme"]["viewer"])
    url = f"/~acme/schedules/{schedule_id}/ticks"
    before = (await client.get(url, headers=viewer)).json()
    assert before["schedule"] == schedule_id and before["fired"] == []
    upcoming = [datetime.fromisoformat(t.replace("Z", "+00:00")) for t in before["upcoming"]]
    assert len(upcoming) == 5 and upcoming == sorted(upcoming)
    gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(upcoming)}
    assert gaps <= {82_800.0, 86_400.0, 90_000.0}  # a day apart (23 or 25 h across DST)
    assert all(t.hour in (7, 8) for t in upcoming)  # 09:00 in Paris

    await engine.schedules.tick(upcoming[0].timestamp() + 1)
    await engine.schedules.tick(upcoming[1].timestamp() + 1)
    after = (await client.get(f"{url}?fired=1&upcoming=2", headers=viewer)).json()
    [fire] = after["fired"]
    assert fire["tick"] == before["upcoming"][1]  # newest first
    assert fire["status"] == "pending" and fire["outcome"] is None
    run = (await client.get(f"/~acme/runs/{fire['runId']}", headers=viewer)).json()
    assert run["trigger"] == "schedule"
    assert after["upcoming"] == before["upcoming"][2:4]

    too_many = await client.get(f"{url}?fired=51", headers=viewer)
    assert too_many.status_code == 422
    elsewhere = await client.get(url, headers=bearer(keys["globex"]["admin"]))
    assert elsewhere.status_code == 404


async def test_a_paused_schedule_has_no_next_ticks(
    client: httpx.AsyncClient, keys: Keys, engine: Engine
) -> None:
    schedule_id = await _scheduled(engine)
    [workflow] = (await engine.workflows.find("acme")).items
    await engine.workflows.pause("acme", workflow.id)
    ticks = (await client.get(f"/~acme/schedules/{schedule_id}/ticks",
                              headers=bearer(keys["acme"]["viewer"]))).json()  # fmt: skip
    assert ticks["upcoming"] == []


async def test_the_audit_trail_filters_by_resource_type(
    client: httpx.AsyncClient, keys: Keys, engine: Engine
) -> None:
    admin = bearer(keys["acme"]["admin"])
    schedule_id = await _scheduled(engine)
    await engine.schedules.delete("acme", schedule_id)
    page = (await client.get("/~acme/audit?type=schedule", headers=admin)).json()
    assert [(e["verb"], e["resource"]["type"]) for e in page["items"]] == [
        ("delete", "schedule"), ("create", "schedule")
    ]  # fmt: skip
    keys_only = (await client.get("/~acme/audit?type=key&verb=create", headers=admin)).json()
    assert keys_only["items"] and {e["resource"]["type"] for e in keys_only["items"]} == {"key"}
    assert (await client.get("/~acme/audit?type=", headers=admin)).status_code == 422


def test_ticks_and_audit_types_from_the_shell(tmp_path: Path) -> None:
    def plait(*args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
        return subprocess.run([sys.executable, "-m", "plait", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip

    (tmp_path / "w.json").write_text(json.dumps(WELCOME))
    assert plait("workflows", "create", "w.json").returncode == 0
    made = plait("schedules", "create", "--workflow", "Welcome customer", "--cron", "@hourly",
                 "--json")  # fmt: skip
    assert made.returncode == 0, made.stderr
    schedule_id = json.loads(made.stdout)["$id"]
    ticks = plait("schedules", "ticks", schedule_id, "--upcoming", "3", "--json")
    assert ticks.returncode == 0, ticks.stderr
    shown = json.loads(ticks.stdout)
    assert shown["schedule"] == schedule_id and shown["fired"] == []
    assert shown["upcoming"] == []  # a Draft's schedule is paused until it is activated
    listed = plait("audit", "list", "--type", "schedule", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [e["verb"] for e in json.loads(listed.stdout)["items"]] == ["create"]
