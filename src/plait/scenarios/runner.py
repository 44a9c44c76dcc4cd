"""Running a workflow's scenarios, each in a throwaway engine of its own.

    report = await run_scenarios(document, read_scenarios(file_content))
    report.passed, report.summary.pass_rate, report.failing()

A scenario stores the workflow (its ``tests`` left out) in a scratch database, starts it (by
hand with ``input``, by emitting its ``event``, or, for a state machine, by sending the script
of ``events`` to one instance), lets virtual time pass as ``plait.scenarios.driver`` says, and
checks the expectations. Nothing outside the scratch database is touched: the actions are the
scenario's mocks and the built-ins that only touch that database (``plait.scenarios.mocks``).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import TYPE_CHECKING, Any

from plait.errors import PlaitError
from plait.resources.scenario_reports import Failure, ScenarioReport, ScenarioResult, StepCall
from plait.scenarios.driver import ANSWERER, ORG, Scratch, drive_flow, scratch
from plait.scenarios.expectations import Observation, check
from plait.scenarios.mocks import Journal, ScenarioActions

if TYPE_CHECKING:
    from plait.actions.base import Actions
    from plait.resources.runs import Run
    from plait.resources.scenarios import Scenario, Scenarios

DEFAULT_TIMEOUT = 60.0
"""Real seconds a scenario may take before it fails."""


async def run_scenarios(
    document: dict[str, Any],
    scenarios: Scenarios,
    *,
    real: Actions | None = None,
    settings: dict[str, Any] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> ScenarioReport:
    """Run every scenario of ``scenarios`` against the workflow ``document``, one after the
    other, each on its own scratch database. ``real``: actions that run when a scenario does
    not mock them (``plait test --app``); ``settings``: the scratch engines' settings."""
    # Not the schedule: its ticks would start runs of their own in the scratch database.
    body = {k: v for k, v in document.items() if k not in ("tests", "schedule")}
    results = [
        await run_scenario(body, scenario, real=real, settings=settings, timeout=timeout)
        for scenario in scenarios.scenarios
    ]
    return ScenarioReport.of(str(body.get("name") or _graph_name(body)), results)


def _graph_name(body: dict[str, Any]) -> str:
    metadata = body.get("metadata")
    return str(metadata.get("name", "workflow")) if isinstance(metadata, dict) else "workflow"


async def run_scenario(
    document: dict[str, Any],
    scenario: Scenario,
    *,
    real: Actions | None = None,
    settings: dict[str, Any] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> ScenarioResult:
    """Run one scenario on a scratch database and check its expectations."""
    journal = Journal()
    actions = ScenarioActions(scenario.mocks, journal, real)
    began = time.perf_counter()
    seen: Observation | None = None
    failures: list[Failure] = []
    try:
        async with (
            asyncio.timeout(timeout),
            scratch(actions, scenario.tasks, settings or {}) as box,
        ):
            seen, failures = await _play(box, document, scenario, journal)
    except TimeoutError:
        failures.append(Failure(path="$", message=f"the scenario did not end within {timeout:g} "
                                "real seconds"))  # fmt: skip
    except PlaitError as exc:
        failures.append(Failure(path="workflow", message=str(exc)))
    wall_ms = round((time.perf_counter() - began) * 1000, 3)
    return _result(scenario, seen or Observation(None, journal), failures, wall_ms)


async def _play(
    box: Scratch, document: dict[str, Any], scenario: Scenario, journal: Journal
) -> tuple[Observation, list[Failure]]:
    start = box.clock.peek()
    await _store_secrets(box, scenario.secrets)
    workflow = await box.engine.workflows.create(ORG, document)
    machine = "states" in document or document.get("machine") is not None
    if machine:
        run, instance, failures = await _play_machine(box, workflow.id, scenario)
    else:
        run, failures = await _play_flow(box, workflow.id, scenario)
        instance = None
    events = (await box.engine.events.find(ORG, limit=1000)).items
    seen = Observation(run, journal, [e.wire() for e in reversed(events)], instance,
                       round(box.clock.peek() - start, 3))  # fmt: skip
    failures += [Failure(path=f"mocks.{action}", message=f"step {step!r} reached action "
                         f"{action!r}, which the scenario does not mock")
                 for action, step in journal.unmocked]  # fmt: skip
    failures += [Failure(path="tasks", message=error) for error in box.answer_errors]
    return seen, failures + check(scenario.expect, seen)


async def _play_flow(
    box: Scratch, workflow_id: str, scenario: Scenario
) -> tuple[Run | None, list[Failure]]:
    workflows = box.engine.workflows
    if scenario.events is not None:
        return None, [Failure(path="events", message="a script of events is for a state "
                              "machine; start this workflow with input or event")]  # fmt: skip
    if scenario.event is not None:
        await workflows.activate(ORG, workflow_id)
        event = scenario.event
        emitted = await box.engine.events.emit(ORG, event.type, event.data, id=event.id)
        run_ids = [r for r in emitted.runs if (await box.run(r)).workflow != ANSWERER]
        if not run_ids:
            return None, []
        run_id = run_ids[0]
    else:
        run_id = (await workflows.trigger(ORG, workflow_id, scenario.input)).id
    stuck = await drive_flow(box, run_id)
    failures = []
    if stuck is not None and scenario.expect.status != "waiting":
        failures.append(Failure(path="run", message=stuck))
    return await box.run(run_id), failures


async def _play_machine(
    box: Scratch, workflow_id: str, scenario: Scenario
) -> tuple[Run | None, Any, list[Failure]]:
    from plait.errors import NotFound

    if scenario.events is None:
        return None, None, [Failure(path="events", message="a state machine scenario needs a "
                                    "script of events (events: [{type, data}])")]  # fmt: skip
    stored = await box.engine.workflows.activate(ORG, workflow_id)
    machines, failures = box.engine.machines, []
    await box.settle()
    for index, line in enumerate(scenario.events):
        if line.advance:
            await box.clock.advance(line.advance)
            await box.settle()
        if line.type is None:
            continue
        try:
            await machines.send(ORG, stored.name, scenario.key, line.type, line.data, id=line.id)
        except PlaitError as exc:
            failures.append(Failure(path=f"events[{index}]", message=str(exc)))
        await box.settle()
    try:
        instance = await machines.get(ORG, stored.name, scenario.key)
    except NotFound as exc:
        return None, None, [*failures, Failure(path="events", message=str(exc))]
    return await box.run(instance.run_id), instance, failures


async def _store_secrets(box: Scratch, secrets: dict[str, str]) -> None:
    if not secrets:
        return
    from plait.sealing import SECRET_KEY_ENV

    if not os.environ.get(SECRET_KEY_ENV):
        raise PlaitError(f"the scenario's secrets are stored sealed: set {SECRET_KEY_ENV}")
    for name, value in secrets.items():
        await box.engine.secrets.set(ORG, name, value)


def _result(
    scenario: Scenario, seen: Observation, failures: list[Failure], wall_ms: float
) -> ScenarioResult:
    from plait.resources.reports import RunReport

    run = seen.run
    step_errors: dict[str, int] = {}
    if run is not None:
        for key, step in RunReport.of(run).steps.items():
            failed = step.attempts if step.status == "failed" else max(0, step.attempts - 1)
            if failed:
                step_errors[key] = failed
    calls = [StepCall(action=c.action, step=c.step, input=c.input, mocked=c.mocked)
             for c in seen.journal.calls]  # fmt: skip
    return ScenarioResult(
        name=scenario.name, passed=not failures, failures=failures,
        run_id=run.id if run else None, status=run.status if run else None,
        outcome=run.outcome if run else None, output=run.output if run else None,
        error=run.error if run else None,
        state=seen.instance.state if seen.instance is not None else None,
        failed_steps=list(run.failed_steps) if run else [], step_errors=step_errors,
        calls=calls, virtual_seconds=seen.virtual_seconds, wall_ms=wall_ms,
    )  # fmt: skip
