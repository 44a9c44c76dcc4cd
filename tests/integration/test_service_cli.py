"""`plait workflows | emit | schedules` on the database, through the real command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "definitions"


def plait(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
    return subprocess.run([sys.executable, "-m", "plait", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def data(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_workflow_lifecycle_and_emit_from_the_shell(tmp_path: Path) -> None:
    (tmp_path / "deal.json").write_text((EXAMPLES / "deal-won.json").read_text())
    created = data(
        plait("workflows", "create", "deal.json", "--org", "acme", "--json", cwd=tmp_path)
    )
    wid = created["$id"]
    assert created["status"] == "Draft" and created["triggerEvent"] == "Deal.won"
    listed = data(plait("workflows", "list", "--org", "acme", "--json", cwd=tmp_path))
    assert [w["$id"] for w in listed["items"]] == [wid]
    assert data(plait("workflows", "list", "--org", "other", "--json", cwd=tmp_path))["items"] == []
    active = data(plait("workflows", "activate", wid, "--org", "acme", "--json", cwd=tmp_path))
    assert active["status"] == "Activated"
    event = data(plait("emit", "Deal.won", "--data", '{"name": "Acme"}', "--id", "e1",
                       "--org", "acme", "--json", cwd=tmp_path))  # fmt: skip
    assert len(event["runs"]) == 1
    again = data(plait("emit", "Deal.won", "--data", "{}", "--id", "e1", "--org", "acme", "--json",
                       cwd=tmp_path))  # fmt: skip
    assert again["runs"] == event["runs"] and again["duplicate"] is True
    (tmp_path / "patch.yaml").write_text("description: onboard new customers\n")
    updated = data(plait("workflows", "update", wid, "patch.yaml", "--org", "acme", "--json",
                         cwd=tmp_path))  # fmt: skip
    assert updated["version"] == 2 and updated["description"] == "onboard new customers"
    run = data(plait("workflows", "trigger", wid, "--input", '{"name": "B"}', "--org", "acme",
                     "--json", cwd=tmp_path))  # fmt: skip
    assert run["workflowVersion"] == 2 and run["status"] == "pending"
    paused = plait("workflows", "pause", wid, "--org", "acme", cwd=tmp_path)
    assert paused.returncode == 0
    archived = data(plait("workflows", "archive", wid, "--org", "acme", "--json", cwd=tmp_path))
    assert archived["status"] == "Archived"
    refused = plait("workflows", "activate", wid, "--org", "acme", cwd=tmp_path)
    assert refused.returncode == 4 and "Archived -> Activated" in refused.stderr


def test_schedules_from_the_shell(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_text(
        "name: nightly\ntriggerEvent: Report.requested\nsteps:\n"
        "  - action: log\n    mapping: {message: \"'report'\"}\n"
    )
    data(plait("workflows", "create", "w.yaml", "--json", cwd=tmp_path))
    made = data(plait("schedules", "create", "--workflow", "nightly", "--cron", "0 2 * * *",
                      "--timezone", "Europe/Paris", "--json", cwd=tmp_path))  # fmt: skip
    assert made["cron"] == "0 2 * * *" and made["timezone"] == "Europe/Paris"
    listed = data(plait("schedules", "list", "--json", cwd=tmp_path))
    assert listed == {"items": [made], "nextCursor": None}
    bad = plait(
        "schedules", "create", "--workflow", "nightly", "--cron", "99 * * * *", cwd=tmp_path
    )
    assert bad.returncode == 4 and "99 * * * *" in bad.stderr
    other = data(plait("schedules", "create", "--workflow", "nightly", "--cron", "0 3 * * *",
                       "--json", cwd=tmp_path))  # fmt: skip
    first = data(plait("schedules", "list", "--limit", "1", "--json", cwd=tmp_path))
    assert [s["$id"] for s in first["items"]] == [made["$id"]] and first["nextCursor"]
    second = data(plait("schedules", "list", "--limit", "1", "--cursor", first["nextCursor"],
                        "--json", cwd=tmp_path))  # fmt: skip
    assert second == {"items": [other], "nextCursor": None}
    shown = plait("schedules", "list", "--limit", "1", cwd=tmp_path)
    assert shown.returncode == 0 and f"--cursor {first['nextCursor']}" in shown.stdout
    gone = data(plait("schedules", "delete", made["$id"], "--json", cwd=tmp_path))
    assert gone == {"$id": made["$id"], "$type": "Schedule", "deleted": True}
    assert plait("schedules", "delete", other["$id"], cwd=tmp_path).stdout.strip() == (
        f"deleted {other['$id']}"
    )
    assert data(plait("schedules", "list", "--json", cwd=tmp_path))["items"] == []
    missing = plait("schedules", "delete", made["$id"], cwd=tmp_path)
    assert missing.returncode == 3


def test_workflows_get_list_pages_and_delete_from_the_shell(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_text("name: first\nsteps:\n  - action: log\n")
    (tmp_path / "v.yaml").write_text("name: second\nsteps:\n  - action: log\n")
    first = data(plait("workflows", "create", "w.yaml", "--json", cwd=tmp_path))
    second = data(plait("workflows", "create", "v.yaml", "--json", cwd=tmp_path))
    assert first.pop("warnings") == []  # what create answers besides the workflow
    assert data(plait("workflows", "get", "first", "--json", cwd=tmp_path)) == first
    shown = plait("workflows", "get", first["$id"], cwd=tmp_path)
    assert shown.returncode == 0 and "first" in shown.stdout
    page = data(plait("workflows", "list", "--limit", "1", "--json", cwd=tmp_path))
    assert [w["$id"] for w in page["items"]] == [first["$id"]] and page["nextCursor"]
    rest = data(plait("workflows", "list", "--limit", "1", "--cursor", page["nextCursor"],
                      "--json", cwd=tmp_path))  # fmt: skip
    assert [w["$id"] for w in rest["items"]] == [second["$id"]] and rest["nextCursor"] is None
    gone = data(plait("workflows", "delete", "first", "--json", cwd=tmp_path))
    assert gone == {"$id": first["$id"], "$type": "Workflow", "deleted": True}
    assert plait("workflows", "delete", "second", cwd=tmp_path).stdout.strip() == (
        f"deleted {second['$id']}"
    )
    assert data(plait("workflows", "list", "--json", cwd=tmp_path)) == {
        "items": [], "nextCursor": None}  # fmt: skip
    missing = plait("workflows", "get", "first", "--json", cwd=tmp_path)
    assert missing.returncode == 3 and "first" in missing.stderr
