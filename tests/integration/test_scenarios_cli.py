"""``plait test --scenarios``: each scenario of a file runs in its own throwaway database on
virtual time; the table, the summary, --json, --junit and the exit code say what passed. The
brief's documents under examples/definitions keep scenario files that must pass (CI)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.integration.test_service_cli import plait

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "definitions"
SCENARIO_FILES = sorted(EXAMPLES.glob("*.scenarios.yaml"))

FLOW = """
name: notify
triggerEvent: Order.created
steps:
  - id: fetch
    type: function
    function: http
    input: {url: 'https://example.com/{{ input.id }}'}
    retryPolicy: {maxAttempts: 2, backoff: constant, baseDelay: 1000}
  - {id: note, type: function, function: log, dependsOn: [fetch], input: {message: fetched}}
"""


def test_every_document_of_the_brief_has_scenarios() -> None:
    names = {path.name.removesuffix(".scenarios.yaml") for path in SCENARIO_FILES}
    assert {"deal-won", "customer-onboarding", "invoice", "expense-approval",
            "order-state-machine", "inventory-reorder"} <= names  # fmt: skip


@pytest.mark.parametrize("scenarios", SCENARIO_FILES, ids=lambda p: p.name)
def test_the_scenarios_of_the_examples_pass(scenarios: Path, tmp_path: Path) -> None:
    done = plait("test", "--scenarios", str(scenarios), "--json", cwd=tmp_path)
    report = json.loads(done.stdout)
    failing = {r["name"]: r["failures"] for r in report["results"] if not r["passed"]}
    assert failing == {}
    assert done.returncode == 0, done.stderr
    assert report["summary"]["passRate"] == 1.0


def test_a_failing_scenario_names_the_unmocked_action_and_its_step(tmp_path: Path) -> None:
    (tmp_path / "notify.yaml").write_text(FLOW)
    (tmp_path / "s.yaml").write_text("""
workflow: notify.yaml
scenarios:
  - name: mocked
    input: {id: 7}
    mocks: {http: {status: 200, body: {ok: true}}}
    expect:
      status: succeeded
      calls: {http: {count: 1, args: [{url: 'https://example.com/7'}]}}
  - name: not mocked
    input: {id: 8}
    expect: {status: succeeded}
""")
    done = plait("test", "--scenarios", "s.yaml", "--junit", "out.xml", cwd=tmp_path)
    assert done.returncode == 1
    assert "1 of 2 scenarios passed (pass rate 50%)" in done.stdout
    assert "step 'fetch' reached action 'http', which the scenario does not mock" in done.stdout
    assert "fetch: failed in 1 scenario(s)" in done.stdout
    suite = ET.parse(tmp_path / "out.xml").getroot()
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    failure = suite.find(".//testcase[@name='not mocked']/failure")
    assert failure is not None and "mocks.http" in (failure.text or "")
    assert suite.find(".//testcase[@name='mocked']/failure") is None


def test_failed_expectations_say_what_was_expected_and_found(tmp_path: Path) -> None:
    (tmp_path / "notify.yaml").write_text(FLOW)
    (tmp_path / "s.json").write_text(json.dumps({"scenarios": [{
        "name": "wrong guesses", "input": {"id": 1},
        "mocks": {"http": [{"error": "timed out", "type": "TimeoutError"}, {"value": {"a": 1}}]},
        "expect": {"outcome": "failed", "output": {"fetch": {"a": 2}},
                   "steps": {"fetch": {"attempts": 1}}, "calls": {"http": 3, "log": 0}},
    }]}))  # fmt: skip
    done = plait("test", "notify.yaml", "--scenarios", "s.json", "--json", cwd=tmp_path)
    assert done.returncode == 1
    result = json.loads(done.stdout)["results"][0]
    found = {f["path"]: f["message"] for f in result["failures"]}
    assert found == {
        "expect.outcome": "expected failed, got succeeded",
        "expect.output.fetch.a": "expected 2, got 1",
        "expect.steps.fetch.attempts": "expected 1, got 2",
        "expect.calls.http.count": "expected 3 call(s), got 2",
        "expect.calls.log.count": "expected 0 call(s), got 1",
    }
    assert result["stepErrors"] == {"fetch": 1}
    assert result["virtualSeconds"] >= 1  # the retry's delay passed on the virtual clock


def test_a_scenario_file_with_problems_lists_them_with_paths(tmp_path: Path) -> None:
    (tmp_path / "notify.yaml").write_text(FLOW)
    (tmp_path / "s.yaml").write_text("""
workflow: notify.yaml
scenarios:
  - name: typo
    input: {id: 1}
    expekt: {status: succeeded}
  - name: a negative count
    input: {}
    expect: {calls: {http: -1}}
  - name: two starts
    input: {}
    event: {type: Order.created}
""")
    done = plait("test", "--scenarios", "s.yaml", cwd=tmp_path)
    assert done.returncode == 2
    text = " ".join(done.stdout.split())
    assert "$.scenarios[0].expekt: unknown key" in text
    assert "$.scenarios[1].expect.calls.http.count" in text
    assert "$.scenarios[2]: give one of input, event or events, not input and event" in text


def test_plait_workflows_test_runs_a_stored_workflows_scenarios(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/plait.db"
    scenario = {"name": "ok", "input": {}, "mocks": {"charge": 1},
                "expect": {"status": "succeeded"}}  # fmt: skip
    body = {"name": "billing", "triggerEvent": "Invoice.due",
            "steps": [{"id": "charge", "type": "function"}],
            "tests": {"scenarios": [scenario]}}  # fmt: skip
    (tmp_path / "billing.json").write_text(json.dumps(body))
    assert plait("workflows", "create", "billing.json", "--db", db, cwd=tmp_path).returncode == 0

    done = plait("workflows", "test", "billing", "--json", "--db", db, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["summary"]["passRate"] == 1.0

    body["tests"]["scenarios"][0]["expect"] = {"status": "failed"}  # type: ignore[index]
    (tmp_path / "billing.json").write_text(json.dumps({"tests": body["tests"]}))
    assert plait("workflows", "update", "billing", "billing.json", "--db", db,
                 cwd=tmp_path).returncode == 0  # fmt: skip
    done = plait("workflows", "test", "billing", "--db", db, cwd=tmp_path)
    assert done.returncode == 1
    assert "expect.status: expected failed, got succeeded" in done.stdout
