"""`plait runs list` with the run filters and `plait runs bulk` (as `GET /~{org}/runs` and
`POST /~{org}/runs/bulk`), in a subprocess on a SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

from tests.api.conftest import WELCOME
from tests.integration.test_service_cli import data, plait


def test_runs_list_filters_and_bulk_cancel_from_the_shell(tmp_path: Path) -> None:
    (tmp_path / "welcome.json").write_text(json.dumps(WELCOME))
    workflow = data(plait("workflows", "create", "welcome.json", "--json", cwd=tmp_path))["$id"]
    runs = [data(plait("workflows", "trigger", workflow, "--input",
                       json.dumps({"customer": {"name": name}}), "--json", cwd=tmp_path))["$id"]
            for name in ("Ada", "Bo", "Cy")]  # fmt: skip

    def listed(*flags: str) -> list[str]:
        page = data(plait("runs", "list", *flags, "--json", cwd=tmp_path))
        return [run["$id"] for run in page["items"]]

    assert listed("--search", "input.customer.name=Bo") == [runs[1]]
    assert listed("--trigger", "manual", "--status", "pending") == runs[::-1]
    assert listed("--search", runs[2][:10]) == [runs[2]]
    assert listed("--created-after", "2999-01-01T00:00:00Z") == []
    bad = plait("runs", "list", "--outcome", "meh", cwd=tmp_path)
    assert bad.returncode == 2 and "outcome" in bad.stderr

    done = data(plait("runs", "bulk", "cancel", runs[0], "--json", cwd=tmp_path))
    assert [(r["runId"], r["result"]) for r in done["results"]] == [(runs[0], "done")]
    rest = plait("runs", "bulk", "cancel", "--workflow", workflow, cwd=tmp_path)
    assert rest.returncode == 0, rest.stderr
    assert "2 runs cancelled, 1 skipped (already cancelled)" in " ".join(rest.stdout.split())
    assert listed("--status", "cancelled") == runs[::-1]
    neither = plait("runs", "bulk", "retry", cwd=tmp_path)
    assert neither.returncode == 2
