"""`plait run | test`: unreadable @files are a one-line usage error; a failed run exits 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.test_definitions_cli import GREET, GREET_APP, plait

FAILING = """
name: failing
steps:
  - id: charge
    function: charge
    input: {amount: "{{input.amount}}"}
"""

FAILING_APP = """
from plait import Engine
from plait.actions.base import ActionError
engine = Engine()

@engine.action("charge")
def charge(value):
    raise ActionError(f"card declined for {value['amount']}")
"""


@pytest.mark.parametrize(
    ("args", "what"),
    [
        (["test", "greet.yaml", "--input", "@missing.json"], "--input"),
        (["run", "greet.yaml", "--app", "app:engine", "--input", "@missing.json"], "--input"),
        (["test", "greet.yaml", "--input", "{}", "--mock", "sayHello=@nope.json"],
         "--mock sayHello"),
    ],
    ids=["test-input", "run-input", "test-mock"],
)  # fmt: skip
def test_a_missing_at_file_is_a_one_line_usage_error(
    tmp_path: Path, args: list[str], what: str
) -> None:
    (tmp_path / "greet.yaml").write_text(GREET)
    (tmp_path / "app.py").write_text(GREET_APP)
    if args[0] == "run":
        args = [*args, "--db", f"sqlite:///{tmp_path / 'p.db'}"]
    done = plait(*args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    missing = "nope.json" if what.startswith("--mock") else "missing.json"
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert what in lines[0] and repr(missing) in lines[0] and "No such file" in lines[0]
    assert done.stdout == ""


def test_run_exits_1_on_a_failed_run_and_prints_the_report(tmp_path: Path) -> None:
    (tmp_path / "failing.yaml").write_text(FAILING)
    (tmp_path / "app.py").write_text(FAILING_APP)
    db = f"sqlite:///{tmp_path / 'p.db'}"
    done = plait("run", "failing.yaml", "--app", "app:engine", "--input", '{"amount": 12}',
                 "--db", db, "--json", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == "failed"
    assert report["steps"]["charge"]["status"] == "failed"
    assert report["errors"] == [{"step": "charge", "type": "plait.actions.base.ActionError",
                                 "message": "card declined for 12"}]  # fmt: skip

    text = plait("run", "failing.yaml", "--app", "app:engine", "--input", '{"amount": 7}',
                 "--db", db, cwd=tmp_path)  # fmt: skip
    assert text.returncode == 1
    assert "failed" in text.stdout and "card declined for 7" in text.stdout
