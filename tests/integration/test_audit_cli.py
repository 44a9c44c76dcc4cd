"""``plait audit list`` through the real command line: changes made from the shell are audited as
``cli`` by ``PLAIT_ACTOR`` (else the OS user), listed as a table or as the REST page's JSON,
filtered, and a bad filter exits 2 naming it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from plait.cli.common import current_user
from tests.backends import BACKENDS, database_url

GREET = {"name": "greet", "triggerEvent": "Customer.created",
         "steps": [{"id": "hello", "action": "log", "input": {"message": "hello"}}]}  # fmt: skip


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


def test_changes_from_the_shell_are_listed_by_plait_audit_list(tmp_path: Path, db: str) -> None:
    def plait(*args: str, cwd: Path, actor: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
        if actor is not None:
            env["PLAIT_ACTOR"] = actor
        command = [sys.executable, "-m", "plait", *args, "--org", "acme", "--db", db]
        return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=60)  # fmt: skip

    (tmp_path / "greet.json").write_text(json.dumps(GREET))
    made = plait("workflows", "create", "greet.json", "--json", cwd=tmp_path, actor="carol")
    assert made.returncode == 0, made.stderr
    workflow_id = json.loads(made.stdout)["$id"]
    refused = plait("workflows", "pause", workflow_id, cwd=tmp_path)
    assert refused.returncode != 0

    listed = plait("audit", "list", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    page = json.loads(listed.stdout)
    assert page["nextCursor"] is None
    shown = [(e["verb"], e["actor"]["name"], e["actor"]["interface"], e["result"],
              e["versionAfter"]) for e in page["items"]]  # fmt: skip
    assert shown == [("pause", current_user(), "cli", "failed", None),
                     ("create", "carol", "cli", "ok", 1)]  # fmt: skip
    assert page["items"][0]["actor"]["address"] == socket.gethostname()  # from where

    table = plait("audit", "list", "--actor", "carol", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.strip().splitlines()
    assert lines[0].split() == ["at", "actor", "via", "verb", "resource", "version", "result"]
    assert lines[1].split()[1:] == ["carol", "cli", "create", "workflow", workflow_id, "1", "ok"]
    assert len(lines) == 2

    none = plait("audit", "list", "--resource", "workflow_none", cwd=tmp_path)
    assert none.stdout.strip() == "no audit entries"
    bad = plait("audit", "list", "--since", "last tuesday", cwd=tmp_path)
    assert bad.returncode == 2
    assert "since: must be a time in ISO 8601" in bad.stderr
