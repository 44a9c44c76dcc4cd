"""A stored workflow's test scenarios: read and replace them, run them, and the activation
check (brief 004: "testing workflows before activation").

The scenarios live in the workflow's document under ``tests`` (``{scenarios: [...], required:
true}``), so they are versioned with it: ``PUT /~{org}/workflows/{id}/tests`` stores a new
version. With ``required: true``, :meth:`WorkflowService.activate` runs them first, each in a
throwaway engine on virtual time (never the organization's data), and refuses activation with
:class:`ScenariosFailed` (409), whose problems list each failed expectation of each failing
scenario; so does :meth:`WorkflowService.update` of an Activated workflow, whose old version
stays live. Stored scenarios keep no ``secrets``: the document is readable by every viewer.
The running itself is the engine's (``plait.scenarios``), given to the service as a
:data:`ScenarioRunner`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from plait.errors import NotFound, PlaitError

if TYPE_CHECKING:
    from plait.definitions.model import Definition
    from plait.definitions.validate import Problem
    from plait.resources.scenario_reports import ScenarioReport
    from plait.resources.scenarios import Scenarios
    from plait.resources.workflows import SavedWorkflow
    from plait.service.workflows import WorkflowService
    from plait.store.records import WorkflowRecord

ScenarioRunner = Callable[[dict[str, Any], "Scenarios"], Awaitable["ScenarioReport"]]
"""Runs scenarios against a workflow document, each on a throwaway engine."""


class ScenariosFailed(PlaitError):
    """The workflow's test scenarios did not all pass, so it was not activated."""

    def __init__(self, workflow: str, report: ScenarioReport, verb: str = "activate") -> None:
        from plait.definitions.validate import Problem

        self.workflow = workflow
        self.report = report
        names = [r.name for r in report.results]
        self.problems: list[Problem] = [
            Problem(f"$.tests.scenarios[{names.index(r.name)}]",
                    f"scenario {r.name!r}: {f.path}: {f.message}")
            for r in report.failing() for f in r.failures
        ]  # fmt: skip
        failing = ", ".join(repr(r.name) for r in report.failing())
        s = report.summary
        super().__init__(f"cannot {verb} workflow {workflow}: {s.failed} of {s.total} test "
                         f"scenarios failed ({failing})")  # fmt: skip


class NoTests(NotFound):
    """The workflow keeps no test scenarios."""

    problem_kind = "no-tests"

    def __init__(self, workflow: str) -> None:
        self.workflow = workflow
        super().__init__(f"workflow {workflow} keeps no test scenarios (store them with PUT "
                         f".../tests, or under tests in its document)")  # fmt: skip


def tests_of(document: dict[str, Any]) -> Scenarios | None:
    """The scenarios a stored workflow's document keeps (``None``: it keeps none)."""
    from plait.resources.scenarios import InvalidScenarios, read_scenarios

    tests = document.get("tests")
    if tests is None:
        return None
    try:
        return read_scenarios(tests, "$.tests")
    except InvalidScenarios as exc:  # stored before the format changed: say so at activation
        from plait.definitions.validate import InvalidDefinition

        raise InvalidDefinition(exc.problems) from exc


def tests_problems(body: dict[str, Any], definition: Definition | None) -> list[Problem]:
    """The problems of a workflow document's ``tests`` (none without tests): the block's own,
    ``secrets`` (a stored document is readable by every viewer), and, given the workflow's
    ``definition``, the steps and actions it names that the workflow does not have."""
    from plait.definitions.validate import Problem
    from plait.resources.scenario_fit import workflow_problems
    from plait.resources.scenarios import InvalidScenarios, read_scenarios

    if "tests" not in body:
        return []
    try:
        tests = read_scenarios(body["tests"], "$.tests")
    except InvalidScenarios as exc:
        return exc.problems
    found = [Problem(f"$.tests.scenarios[{i}].secrets",
                     "stored scenarios keep no secrets (the workflow's document is readable by "
                     "every viewer): keep them in the organization's secrets store; a scenario "
                     "runs on a throwaway engine, which cannot see them, so mock the actions "
                     "that use them")
             for i, scenario in enumerate(tests.scenarios) if scenario.secrets]  # fmt: skip
    if definition is not None:
        found += workflow_problems(tests, definition, "$.tests")
    return found


async def check_scenarios(
    runner: ScenarioRunner | None, name: str, document: dict[str, Any], verb: str = "activate"
) -> None:
    """Run the scenarios of a workflow ``document`` if it requires them to pass (before
    ``verb``: activate, or update an Activated workflow); ``ScenariosFailed`` if any failed."""
    tests = tests_of(document)
    if tests is None or not tests.required or runner is None:
        return
    report = await runner(document, tests)
    if not report.passed:
        raise ScenariosFailed(name, report, verb)


class WorkflowTests:
    """``engine.workflow_tests``: a stored workflow's scenarios."""

    def __init__(self, workflows: WorkflowService, runner: ScenarioRunner) -> None:
        self.workflows = workflows
        self.runner = runner

    async def get(self, org: str, ref: str) -> dict[str, Any]:
        """The workflow's ``tests`` as stored; ``NoTests`` (404) if it keeps none."""
        record = await self._record(org, ref)
        tests = record.document.get("tests")
        if not isinstance(tests, dict):
            raise NoTests(record.name)
        return tests

    async def put(self, org: str, ref: str, tests: Any) -> SavedWorkflow:
        """Replace the workflow's ``tests`` (a new version); ``InvalidDefinition`` lists the
        problems of ``tests`` at their paths."""
        if isinstance(tests, list):
            tests = {"scenarios": tests}
        return await self.workflows.update(org, ref, {"tests": tests})

    async def run(self, org: str, ref: str) -> ScenarioReport:
        """Run the workflow's scenarios now (its current version) and report; ``NoTests``
        (404) if it keeps none."""
        record = await self._record(org, ref)
        tests = tests_of(record.document)
        if tests is None:
            raise NoTests(record.name)
        return await self.runner(record.document, tests)

    async def trial(self, org: str, document: Any, tests: Any = None) -> ScenarioReport:
        """Run scenarios against a workflow ``document`` that is not stored (a draft being
        written), each on a throwaway engine on virtual time, and report; nothing of ``org``
        is read or changed. ``tests`` (``{scenarios, required?}`` or the list) stands for the
        document's own ``tests``. ``InvalidDefinition`` lists every problem of the document
        and of its scenarios at its path (the rules of creating it); ``NoTests`` if there are
        no scenarios."""
        from plait.definitions.validate import InvalidDefinition, Problem

        body = dict(document) if isinstance(document, dict) else document
        if isinstance(body, dict) and tests is not None:
            body["tests"] = {"scenarios": tests} if isinstance(tests, list) else tests
        checked = await self.workflows.check(org, body)
        if not checked.valid:
            raise InvalidDefinition(
                [Problem(e.path, e.message) for e in checked.errors],
                [Problem(w.path, w.message) for w in checked.warnings],
            )
        scenarios = tests_of(body)
        if scenarios is None:
            raise NoTests(str(body.get("name") or "the definition"))
        return await self.runner(body, scenarios)

    async def _record(self, org: str, ref: str) -> WorkflowRecord:
        from plait.service.workflows import stored_workflow

        return await stored_workflow(await self.workflows.deps.store(), org, ref)
