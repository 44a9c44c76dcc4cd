"""``plait test --scenarios`` with what users write: text that looks like rich markup or holds
control characters is printed and reported as written; an expectation that could never fail (a
step or action the workflow does not have, a state machine's expectation on a flow, anything
beside ``triggered: false``) and a mock that says two things are refused at their paths; a
refused activation lists each failed expectation; scratch runs log no real failures."""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_scenarios_cli import FLOW
from tests.integration.test_service_cli import plait

MARKUP = """
workflow: notify.yaml
scenarios:
  - name: check [/] markup
    input: {id: 1}
    mocks: {http: {post: [true, false]}}
    expect:
      output: {fetch: {post: [true]}}
  - name: "escape \\e[31m and \\x01 in [bold]names[/bold]"
    input: {id: 2}
    mocks: {http: {error: "bad \\e[0m answer"}}
    expect: {status: succeeded}
"""


def test_names_paths_and_messages_are_printed_as_written(tmp_path: Path) -> None:
    (tmp_path / "notify.yaml").write_text(FLOW)
    (tmp_path / "s.yaml").write_text(MARKUP)
    done = plait("test", "--scenarios", "s.yaml", "--junit", "reports/ci/plait.xml", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    text = " ".join(done.stdout.split())
    assert "check [/] markup" in text
    assert "expect.output.fetch.post: expected [true], got [true, false]" in text
    assert "in [bold]names[/bold]" in text
    assert "0 of 2 scenarios passed" in text
    assert "MarkupError" not in done.stderr

    # The JUnit file's directory is made; control characters are written as escapes.
    suite = ET.parse(tmp_path / "reports" / "ci" / "plait.xml").getroot()
    names = [case.get("name") for case in suite.iter("testcase")]
    assert names == ["check [/] markup", "escape \\x1b[31m and \\x01 in [bold]names[/bold]"]
    failure = suite.find(".//testcase[2]/failure")
    assert failure is not None and "bad \\x1b[0m answer" in (failure.text or "")


def test_scratch_runs_log_no_failure_of_a_real_run(tmp_path: Path) -> None:
    (tmp_path / "notify.yaml").write_text(FLOW)
    (tmp_path / "s.yaml").write_text("""
workflow: notify.yaml
scenarios:
  - name: the call fails
    input: {id: 1}
    mocks: {http: {error: down}}
    expect: {outcome: failed}
""")
    done = plait("test", "--scenarios", "s.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 of 1 scenarios passed" in done.stdout
    assert "failed" not in done.stderr and "WARNING" not in done.stderr


def test_ids_the_workflow_does_not_have_are_refused_with_the_closest(tmp_path: Path) -> None:
    (tmp_path / "notify.yaml").write_text(FLOW)
    (tmp_path / "s.yaml").write_text("""
workflow: notify.yaml
scenarios:
  - name: misspelt
    input: {id: 1}
    mocks: {htp: {ok: true}}
    tasks: {aprove: {decision: approve}}
    expect:
      steps: {fecth: completed, note: completed}
      calls: {sendEmail: 0, log: 1}
  - name: a machine's expectations on a flow
    input: {id: 1}
    mocks: {http: {ok: true}}
    expect: {state: done, visited: [a], context: {}, rejected: []}
""")
    done = plait("test", "--scenarios", "s.yaml", cwd=tmp_path)
    assert done.returncode == 2, done.stdout
    text = " ".join(done.stdout.split())
    assert ("$.scenarios[0].mocks.htp: the workflow has no action 'htp', so this can never be "
            "checked; did you mean 'http'?") in text  # fmt: skip
    assert "$.scenarios[0].tasks.aprove: the workflow has no step 'aprove'" in text
    assert "$.scenarios[0].expect.steps.fecth: the workflow has no step 'fecth'" in text
    assert "did you mean 'fetch'?" in text
    assert "$.scenarios[0].expect.calls.sendEmail: the workflow has no action 'sendEmail'" in text
    assert "expect.steps.note" not in text and "expect.calls.log" not in text
    for name in ("state", "visited", "context", "rejected"):
        assert f"$.scenarios[1].expect.{name}: the workflow is not a state machine" in text


def test_nothing_is_expected_beside_triggered_false(tmp_path: Path) -> None:
    (tmp_path / "notify.yaml").write_text(FLOW)
    (tmp_path / "s.yaml").write_text("""
workflow: notify.yaml
scenarios:
  - name: no run, yet an output
    event: {type: Order.deleted}
    expect: {triggered: false, output: {}, calls: {http: 0}}
  - name: no run
    event: {type: Order.deleted}
    expect: {triggered: false}
""")
    done = plait("test", "--scenarios", "s.yaml", cwd=tmp_path)
    assert done.returncode == 2, done.stdout
    text = " ".join(done.stdout.split())
    assert ("$.scenarios[0].expect: with triggered: false no run starts, so nothing else can be "
            "checked: leave out calls, output") in text  # fmt: skip
    assert "$.scenarios[1]" not in text


def test_mocks_that_say_two_things_or_nothing_are_refused(tmp_path: Path) -> None:
    (tmp_path / "notify.yaml").write_text(FLOW)
    (tmp_path / "s.yaml").write_text("""
workflow: notify.yaml
required: "yes"
scenarios:
  - name: an empty sequence
    input: {id: 1}
    mocks: {http: []}
  - name: a value and an error
    input: {id: 1}
    mocks: {http: {value: 1, error: down}}
  - name: a delay alone
    input: {id: 1}
    mocks: {http: [{value: 1}, {delay: 5}]}
  - name: an error that is not text
    input: {id: 1}
    mocks: {log: {error: [1]}}
""")
    done = plait("test", "--scenarios", "s.yaml", "--json", cwd=tmp_path)
    assert done.returncode == 2, done.stdout
    text = " ".join(done.stdout.split())
    assert "$.required" in text
    assert "$.scenarios[0].mocks.http: an empty sequence" in text
    assert "$.scenarios[1].mocks.http: give value or error, not both" in text
    assert "$.scenarios[2].mocks.http[1]: a delay needs a value or an error" in text
    assert "$.scenarios[3].mocks.log.error" in text
    assert "outcomes" not in text


def test_a_refused_activation_lists_each_failed_expectation(tmp_path: Path) -> None:
    (tmp_path / "notify.yaml").write_text(
        FLOW
        + """
tests:
  required: true
  scenarios:
    - name: the call is checked
      input: {id: 1}
      mocks: {http: {ok: true}}
      expect: {calls: {http: 2}, output: {fetch: {ok: false}}}
"""
    )
    created = plait("workflows", "create", "notify.yaml", "--json", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    workflow = json.loads(created.stdout)["$id"]
    refused = plait("workflows", "activate", workflow, cwd=tmp_path)
    assert refused.returncode == 4
    err = " ".join(refused.stderr.split())
    assert "cannot activate workflow notify: 1 of 1 test scenarios failed" in err
    assert ("$.tests.scenarios[0]: scenario 'the call is checked': expect.calls.http.count: "
            "expected 2 call(s), got 1") in err  # fmt: skip
    assert "expect.output.fetch.ok: expected false, got true" in err

    as_json = plait("workflows", "activate", workflow, "--json", cwd=tmp_path)
    assert as_json.returncode == 4
    problem = json.loads(as_json.stdout)
    assert problem["type"] == "urn:plait:problem:scenarios-failed" and problem["status"] == 409
    assert [e["path"] for e in problem["errors"]] == ["$.tests.scenarios[0]"] * 2


async def test_a_real_engine_still_logs_its_failed_runs_beside_scenarios(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from plait import Engine
    from plait.resources.scenarios import read_scenarios
    from plait.scenarios import run_scenarios
    from plait.testing import WorkflowTest

    flow = {"name": "fails", "steps": [{"id": "call", "type": "function", "function": "http"}]}
    scenarios = read_scenarios([{"name": "down", "input": {}, "mocks": {"http": {"error": "x"}},
                                 "expect": {"outcome": "failed"}}])  # fmt: skip
    engine = Engine()

    @engine.workflow("real")
    async def real(ctx: Any) -> None:
        raise RuntimeError("a real failure")

    caplog.set_level(logging.WARNING)
    assert (await run_scenarios(flow, scenarios)).passed
    assert [r for r in caplog.records if "failed" in r.getMessage()] == []
    async with WorkflowTest(engine) as t:
        run = await t.run(real)
    assert run.status == "failed"
    [record] = [r for r in caplog.records if r.name == "plait.runtime.executor"]
    assert record.levelname == "WARNING" and "a real failure" in record.getMessage()
