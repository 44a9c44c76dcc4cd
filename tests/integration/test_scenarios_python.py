"""``plait.scenarios`` from Python: a document and its scenarios, run each on a throwaway engine
on virtual time; the report, and the report as JUnit XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from plait.resources.scenarios import read_scenarios
from plait.scenarios import run_scenarios
from plait.scenarios.junit import junit_xml

SLOW: dict[str, Any] = {
    "name": "quote",
    "steps": [
        {"id": "price", "type": "function", "function": "pricing", "timeout": 5000,
         "input": {"sku": "{{ input.sku }}"}},
        {"id": "wait", "type": "sleep", "duration": "2h", "dependsOn": ["price"]},
        {"id": "tell", "type": "function", "function": "notify", "dependsOn": ["wait"],
         "input": {"price": "{{ price.amount }}"}},
    ],
}  # fmt: skip


async def test_timeouts_sleeps_and_calls_on_virtual_time() -> None:
    scenarios = read_scenarios({"scenarios": [
        {"name": "fast enough", "input": {"sku": "A"},
         "mocks": {"pricing": {"value": {"amount": 9}, "delay": 4}, "notify": {"ok": True}},
         "expect": {"status": "succeeded", "maxDuration": 7300,
                    "calls": {"notify": {"args": [{"price": 9}]}}}},
        {"name": "too slow", "input": {"sku": "B"},
         "mocks": {"pricing": {"value": {"amount": 9}, "delay": 6}},
         "expect": {"status": "succeeded"}},
    ]})  # fmt: skip
    report = await run_scenarios(SLOW, scenarios)
    fast, slow = report.results
    assert fast.passed, fast.failures
    assert 7204 <= fast.virtual_seconds < 7300  # 4 s of pricing, then the 2 h sleep
    assert not slow.passed
    assert [f.path for f in slow.failures] == ["expect.status"]
    assert "timed out" in slow.failures[0].message or "timeout" in slow.failures[0].message
    assert slow.virtual_seconds < 60  # nothing after the failed step waited
    assert report.summary.pass_rate == 0.5
    assert report.summary.step_errors["price"].scenarios == 1

    suite = ET.fromstring(junit_xml([report]).split("\n", 1)[1])
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["fast enough"].find("failure") is None
    failure = cases["too slow"].find("failure")
    assert failure is not None and "expect.status" in (failure.text or "")


async def test_a_run_waiting_on_nothing_fails_the_scenario_naming_the_open_task() -> None:
    document = {"name": "ask", "steps": [
        {"id": "ok", "type": "human-task", "title": "OK?", "assignTo": "mia"}]}  # fmt: skip
    report = await run_scenarios(document, read_scenarios([
        {"name": "nobody answers", "expect": {"status": "succeeded"}},
        {"name": "still waiting, as expected", "expect": {"status": "waiting"}},
        {"name": "mia answers", "tasks": {"ok": {"decision": "approved"}},
         "expect": {"status": "succeeded", "output": {"ok": {"decision": "approve"}}}},
    ]))  # fmt: skip
    stuck, waiting, answered = report.results
    assert {f.path for f in stuck.failures} == {"run", "expect.status"}
    message = next(f.message for f in stuck.failures if f.path == "run")
    assert "open human task(s) of step 'ok'" in message
    assert waiting.passed, waiting.failures
    assert answered.passed, answered.failures
