"""What running a workflow's scenarios found: each scenario's result with its failed
expectations, and the summary by the brief's success criteria (004): the pass rate, the error
frequency of each step, the duration of each scenario."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from plait.resources.base import Resource


class Failure(Resource):
    """A failed expectation (or a reason the scenario could not be checked): where in the
    scenario (``expect.output.customer``), and what was expected and found."""

    path: str
    message: str


class StepCall(Resource):
    """An action call a scenario made: the action, the step that called it, and its input."""

    action: str
    step: str
    input: Any = None
    mocked: bool


class ScenarioResult(Resource):
    """One scenario: whether it passed, the failures, what the run did, and how long it took
    (``virtualSeconds`` on the virtual clock, ``wallMs`` really)."""

    name: str
    passed: bool
    failures: list[Failure] = Field(default_factory=list)
    run_id: str | None = None
    status: str | None = None
    outcome: str | None = None
    output: Any = None
    error: dict[str, Any] | None = None
    state: str | None = Field(None, description="A state machine's current state.")
    failed_steps: list[str] = Field(default_factory=list, description="Steps that ended failed.")
    step_errors: dict[str, int] = Field(
        default_factory=dict, description="Failed attempts per step (retried or not)."
    )
    calls: list[StepCall] = Field(default_factory=list)
    virtual_seconds: float
    wall_ms: float


class StepErrors(Resource):
    """How often a step failed across the scenarios: in how many scenarios it ended failed,
    and its failed attempts in all."""

    scenarios: int
    attempts: int


class ScenarioSummary(Resource):
    """The success criteria: pass rate, error frequency per step, duration per scenario."""

    total: int
    passed: int
    failed: int
    pass_rate: float = Field(description="passed / total, 0 to 1.")
    step_errors: dict[str, StepErrors] = Field(default_factory=dict)
    durations: dict[str, float] = Field(
        default_factory=dict, description="Virtual seconds per scenario."
    )
    wall_ms: float


class ScenarioReport(Resource):
    """The results of a workflow's scenarios and their summary; ``passed``: all of them did."""

    workflow: str
    passed: bool
    results: list[ScenarioResult]
    summary: ScenarioSummary

    @classmethod
    def of(cls, workflow: str, results: list[ScenarioResult]) -> ScenarioReport:
        return cls(workflow=workflow, passed=all(r.passed for r in results), results=results,
                   summary=_summary(results))  # fmt: skip

    def failing(self) -> list[ScenarioResult]:
        return [r for r in self.results if not r.passed]


def _summary(results: list[ScenarioResult]) -> ScenarioSummary:
    errors: dict[str, dict[str, int]] = {}
    for result in results:
        for step, attempts in result.step_errors.items():
            entry = errors.setdefault(step, {"scenarios": 0, "attempts": 0})
            entry["attempts"] += attempts
        for step in result.failed_steps:
            errors.setdefault(step, {"scenarios": 0, "attempts": 0})["scenarios"] += 1
    passed = sum(1 for r in results if r.passed)
    return ScenarioSummary(
        total=len(results), passed=passed, failed=len(results) - passed,
        pass_rate=round(passed / len(results), 4) if results else 0.0,
        step_errors={step: StepErrors(**counts) for step, counts in sorted(errors.items())},
        durations={r.name: r.virtual_seconds for r in results},
        wall_ms=round(sum(r.wall_ms for r in results), 3),
    )  # fmt: skip
