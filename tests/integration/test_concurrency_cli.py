"""Flow control from the shell (docs/flow-control.md): ``plait validate`` reports a flow key's
problem at its path, and ``plait workflows trigger --priority`` starts a run with that
priority (shown with its concurrency key in the run it prints)."""

from __future__ import annotations

from pathlib import Path

from tests.integration.test_service_cli import data, plait

SYNC = """\
name: Sync account
concurrency: {key: input.account, limit: 2}
priority: 1
steps:
  - {id: sync, function: syncAccount, input: {account: "{{ input.account }}"}}
"""


def test_trigger_takes_a_priority_and_validate_names_the_path(tmp_path: Path) -> None:
    (tmp_path / "sync.yaml").write_text(SYNC)
    wid = data(plait("workflows", "create", "sync.yaml", "--json", cwd=tmp_path))["$id"]
    run = data(plait("workflows", "trigger", wid, "--input", '{"account": "acme"}',
                     "--priority", "7", "--json", cwd=tmp_path))  # fmt: skip
    assert (run["priority"], run["concurrencyKey"]) == (7, "acme")
    default = data(plait("workflows", "trigger", wid, "--input", '{"account": "acme"}',
                         "--json", cwd=tmp_path))  # fmt: skip
    assert default["priority"] == 1
    refused = plait("workflows", "trigger", wid, "--priority", "11", cwd=tmp_path)
    assert refused.returncode == 2 and "--priority" in refused.stderr
    (tmp_path / "bad.yaml").write_text(SYNC.replace("limit: 2", "limit: 0"))
    checked = plait("validate", "bad.yaml", cwd=tmp_path)
    assert checked.returncode != 0
    assert "$.concurrency.limit" in checked.stdout + checked.stderr
