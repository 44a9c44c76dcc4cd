"""`plait validate | schema | run | test` through the real command line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from plait import Engine
from plait.definitions.validate import InvalidDefinition

GREET = """
name: greet
input:
  type: object
  required: [name]
  properties: {name: {type: string}}
steps:
  - id: hello
    function: sayHello
    input: {name: "{{input.name}}"}
  - id: bye
    function: sayBye
    input: "{{hello.text}}"
"""

GREET_APP = """
from plait import Engine
engine = Engine()

@engine.action("sayHello")
def say_hello(value):
    return {"text": "hello " + value["name"]}

@engine.action("sayBye")
async def say_bye(text):
    return text + ", bye"
"""

BROKEN = {
    "name": "broken",
    "steps": [
        {"id": "a", "type": "function", "dependsOn": ["c"]},
        {"id": "b", "type": "function", "dependsOn": ["missing"], "timeout": "soon"},
        {"id": "c", "type": "function", "dependsOn": ["a"],
         "condition": "input.plan ===", "input": {"x": "{{typo.y}}"}},
        {"id": "b", "type": "function"},
    ],
}  # fmt: skip


def plait(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "plait", *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def report_of(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def test_validate_lists_every_problem_with_its_path(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text(json.dumps(BROKEN))
    done = plait("validate", "broken.json", "--json", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    result = report_of(done)
    assert result["valid"] is False
    paths = {e["path"] for e in result["errors"]}
    messages = " | ".join(e["message"] for e in result["errors"])
    assert "$.steps[3].id" in paths  # the duplicate 'b'
    assert any(p.startswith("$.steps[1].dependsOn") for p in paths)  # unknown 'missing'
    assert any(p.startswith("$.steps[1].timeout") for p in paths)  # wrong type
    assert any(p.startswith("$.steps[2].condition") for p in paths)  # does not compile
    assert "cycle" in messages and "a -> c -> a" in messages.replace("'", "")
    assert "typo" in messages
    assert "Traceback" not in done.stderr


def test_validate_accepts_a_good_file_and_prints_text(tmp_path: Path) -> None:
    (tmp_path / "greet.yaml").write_text(GREET)
    assert report_of(plait("validate", "greet.yaml", "--json", cwd=tmp_path)) == {
        "valid": True, "errors": [], "warnings": [],
    }  # fmt: skip
    text = plait("validate", "greet.yaml", cwd=tmp_path)
    assert text.returncode == 0 and "greet.yaml: valid" in text.stdout


def test_schema_is_a_json_schema_that_accepts_canonical_definitions(tmp_path: Path) -> None:
    schema = report_of(plait("schema", cwd=tmp_path))
    jsonschema.Draft202012Validator.check_schema(schema)
    canonical = {"name": "x", "steps": [{"kind": "action", "id": "a", "action": "log",
                                         "input": "hi"}]}  # fmt: skip
    jsonschema.validate(canonical, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"name": "x", "steps": [{"kind": "teleport", "id": "a"}]}, schema)


def test_test_runs_with_mocks_and_reports_each_step(tmp_path: Path) -> None:
    (tmp_path / "greet.yaml").write_text(GREET)
    (tmp_path / "hello.json").write_text('{"text": "hi Ada"}')
    mocks = ["--mock", "sayHello=@hello.json", "--mock", 'sayBye="bye"']
    done = plait("test", "greet.yaml", "--input", '{"name": "Ada"}', *mocks, "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = report_of(done)
    assert report["status"] == "succeeded"
    assert report["output"] == {"hello": {"text": "hi Ada"}, "bye": "bye"}
    assert report["steps"]["bye"]["status"] == "succeeded"
    assert report["errors"] == []
    assert not list(tmp_path.glob("*.db"))  # a throwaway database
    assert set(report) == {"runId", "workflow", "status", "outcome", "success", "output",
                           "durationMs", "steps", "errors", "context"}  # fmt: skip
    assert (report["outcome"], report["success"]) == ("succeeded", True)
    assert report["context"] is None  # not a node graph: no workflow context
    stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
    for step in report["steps"].values():
        assert stamp.match(step["startedAt"]) and stamp.match(step["finishedAt"]), step


def test_test_mock_error_fails_the_step_and_the_exit_code(tmp_path: Path) -> None:
    (tmp_path / "greet.yaml").write_text(GREET)
    done = plait("test", "greet.yaml", "--input", '{"name": "Ada"}', "--mock",
                 'sayHello={"text": "x"}', "--mock", 'sayBye={"$error": "smtp down"}', "--json",
                 cwd=tmp_path)  # fmt: skip
    assert done.returncode == 1
    report = report_of(done)
    assert report["status"] == "failed"
    assert report["errors"][0]["step"] == "bye"
    assert "smtp down" in report["errors"][0]["message"]


ONBOARD = {
    "name": "onboard",
    "errorHandling": "Continue",
    "steps": [
        {"id": "customer", "action": "createCustomer", "mapping": {"name": "input.name"}},
        {"id": "welcome", "action": "sendWelcome", "mapping": {"to": "input.name"}},
    ],
}


def test_test_exits_1_for_a_partial_run_unless_partial_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "onboard.json").write_text(json.dumps(ONBOARD))
    mocks = ["--mock", 'createCustomer={"id": "c1"}', "--mock", 'sendWelcome={"$error": "down"}']
    args = ["test", "onboard.json", "--input", '{"name": "Ada"}', *mocks]

    done = plait(*args, "--json", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    report = report_of(done)
    assert (report["status"], report["outcome"]) == ("succeeded", "partial")
    assert report["output"] == {"customer": {"id": "c1"}, "welcome": None}
    assert [(e["step"], e["message"]) for e in report["errors"]] == [
        ("welcome", "sendWelcome (mocked): down")
    ]
    accepted = plait(*args, "--accept-partial", cwd=tmp_path)
    assert accepted.returncode == 0, accepted.stderr
    assert "succeeded (outcome partial)" in accepted.stdout


def test_test_exits_1_when_no_step_succeeded_even_accepting_partial(tmp_path: Path) -> None:
    (tmp_path / "onboard.json").write_text(json.dumps(ONBOARD))
    mocks = ["--mock", 'createCustomer={"$error": "no deal"}', "--mock",
             'sendWelcome={"$error": "no customer"}']  # fmt: skip
    done = plait("test", "onboard.json", *mocks, "--accept-partial", "--json", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    report = report_of(done)
    assert (report["status"], report["outcome"]) == ("failed", "failed")
    assert report["output"] == {"customer": None, "welcome": None}  # what it recorded
    assert {e["step"] for e in report["errors"]} == {"customer", "welcome", None}


def test_test_takes_no_real_time_for_sleeps_and_retries(tmp_path: Path) -> None:
    (tmp_path / "slow.yaml").write_text("""
name: slow
steps:
  - {id: nap, type: sleep, duration: 86400000}
  - id: call
    type: function
    dependsOn: [nap]
    retryPolicy: {maxAttempts: 4, backoff: exponential, initialDelay: 600000, maxDelay: 3600000}
""")
    started = time.monotonic()
    done = plait("test", "slow.yaml", "--mock", 'call={"$error": "down"}', "--json", cwd=tmp_path)
    assert time.monotonic() - started < 20
    report = report_of(done)
    assert report["steps"]["nap"]["status"] == "succeeded"
    assert report["steps"]["call"]["attempts"] == 4
    # a day of sleep plus retry delays of 10, 20 and 40 minutes, all virtual
    assert report["durationMs"] >= (86400 + 600 + 1200 + 2400) * 1000


def test_run_uses_the_embedded_database_and_an_app_for_actions(tmp_path: Path) -> None:
    (tmp_path / "greet.yaml").write_text(GREET)
    (tmp_path / "greetapp.py").write_text(GREET_APP)
    done = plait("run", "greet.yaml", "--input", '{"name": "Ada"}', "--app", "greetapp:engine",
                 "--json", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = report_of(done)
    assert report["output"]["bye"] == "hello Ada, bye"
    listed = plait("runs", "get", report["runId"], "--json", cwd=tmp_path)
    assert json.loads(listed.stdout)["status"] == "succeeded"  # stored in ./plait.db


def test_run_without_the_app_names_the_unknown_actions(tmp_path: Path) -> None:
    (tmp_path / "greet.yaml").write_text(GREET)
    done = plait("run", "greet.yaml", "--input", '{"name": "Ada"}', cwd=tmp_path)
    assert done.returncode == 4
    assert "$.steps[0].function: unknown action 'sayHello'" in done.stderr
    assert "Traceback" not in done.stderr


def test_run_rejects_input_that_breaks_the_schema(tmp_path: Path) -> None:
    (tmp_path / "greet.yaml").write_text(GREET)
    (tmp_path / "greetapp.py").write_text(GREET_APP)
    done = plait("run", "greet.yaml", "--input", '{"name": 42}', "--app", "greetapp:engine",
                 cwd=tmp_path)  # fmt: skip
    assert done.returncode == 4
    assert "input does not match the input schema" in done.stderr
    assert "42 is not of type 'string'" in done.stderr


async def test_an_invalid_definition_registers_and_runs_nothing(db_url: str) -> None:
    engine = Engine(db_url)
    with pytest.raises(InvalidDefinition) as caught:
        engine.define(BROKEN)
    assert len(caught.value.problems) >= 5
    assert "broken" not in engine.catalog.workflows
    async with engine:
        assert (await engine.list_runs()).items == []


def test_validate_checks_the_service_keys_of_a_file_and_does_not_call_them_ignored(
    tmp_path: Path,
) -> None:
    definition = tmp_path / "orders.yaml"
    definition.write_text(
        "name: orders\ntriggerEvent: Order.placed\nsteps:\n  - {id: charge, type: function}\n"
        "schedule: {cron: '@daily'}\nfilter: event.data.total > 0\n"
        "tests:\n  scenarios:\n    - {name: ok, input: {}, mocks: {charge: 1},"
        " expect: {statuz: succeeded}}\n"
    )
    done = plait("validate", str(definition), cwd=tmp_path)
    assert done.returncode == 1
    assert "error   $.tests.scenarios[0].expect.statuz: unknown key" in done.stdout
    assert "is ignored" not in done.stdout
    definition.write_text(definition.read_text().replace("statuz", "status"))
    done = plait("validate", str(definition), cwd=tmp_path)
    assert (done.returncode, done.stdout.strip()) == (0, f"{definition}: valid")
