"""`plait workflows versions` and `plait workflows list --search`, through the real command
line: what the console's Workflows pages and the REST API offer, in the shell too."""

from __future__ import annotations

from pathlib import Path

from tests.integration.test_service_cli import data, plait

FLOW = """name: order-flow
description: Ship an order
triggerEvent: Order.placed
steps:
  - {id: hello, type: function, function: log, input: {message: hi}}
"""


def test_versions_are_listed_and_one_is_printed_as_written(tmp_path: Path) -> None:
    (tmp_path / "flow.yaml").write_text(FLOW)
    (tmp_path / "patch.yaml").write_text("description: Ship an order fast\n")
    created = data(plait("workflows", "create", "flow.yaml", "--json", cwd=tmp_path))
    data(plait("workflows", "update", "order-flow", "patch.yaml", "--json", cwd=tmp_path))
    listed = data(plait("workflows", "versions", "order-flow", "--json", cwd=tmp_path))
    assert listed["workflow"] == created["$id"] and listed["current"] == 2
    assert [v["version"] for v in listed["versions"]] == [2, 1]
    first = data(plait("workflows", "versions", "order-flow", "--version", "1", cwd=tmp_path))
    assert first["description"] == "Ship an order"
    shown = plait("workflows", "versions", "order-flow", cwd=tmp_path)
    assert shown.returncode == 0
    assert [line.split("\t")[0] for line in shown.stdout.splitlines()] == ["2", "1"]
    assert "(current)" in shown.stdout.splitlines()[0]
    missing = plait("workflows", "versions", "order-flow", "--version", "9", cwd=tmp_path)
    assert missing.returncode == 3 and "version 9" in missing.stderr


def test_list_searches_names_and_descriptions(tmp_path: Path) -> None:
    (tmp_path / "flow.yaml").write_text(FLOW)
    (tmp_path / "other.yaml").write_text(FLOW.replace("order-flow", "reports")
                                         .replace("Ship an order", "Weekly figures"))  # fmt: skip
    for name in ("flow.yaml", "other.yaml"):
        data(plait("workflows", "create", name, "--json", cwd=tmp_path))
    found = data(plait("workflows", "list", "--search", "SHIP", "--json", cwd=tmp_path))
    assert [w["name"] for w in found["items"]] == ["order-flow"]
