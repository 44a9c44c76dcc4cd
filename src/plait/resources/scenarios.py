"""Test scenarios of a workflow (brief 004, 002): what a scenario file (``plait test
--scenarios``) and a stored workflow's ``tests`` hold, read strictly, every problem at its path.

A scenario gives the workflow an input or a trigger event (or, for a state machine, a script of
events), mocks the actions it reaches, answers its human tasks, and states what must come out.
``docs/testing.md`` describes every field. Mocks are normalised here into a list of outcomes
(:class:`MockOutcome`): a plain value, ``{value}``, ``{error, type}``, or a list of those for a
sequence of calls (the last one repeats).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from plait.definitions.dialects import loc_path, message
from plait.definitions.validate import Problem

_OUTCOME_KEYS = frozenset({"value", "error", "type", "delay"})


class _Strict(BaseModel):
    """Scenario documents: camelCase keys, unknown keys are errors (a typo is not ignored)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class MockOutcome(_Strict):
    """One call's outcome: return ``value``, or fail with ``error`` (of type ``type``), after
    ``delay`` seconds of virtual time."""

    value: Any = None
    error: str | None = None
    type: str | None = Field(None, description="The error's type name (``TimeoutError``).")
    delay: float = Field(0.0, ge=0)

    @model_validator(mode="after")
    def _one_answer(self) -> MockOutcome:
        given = self.model_fields_set & {"value", "error"}
        if len(given) == 2:
            raise ValueError("give value or error, not both")
        if not given:
            raise ValueError("a delay needs a value or an error to answer with after it")
        return self


def _outcome(value: Any) -> Any:
    """A mock entry as an outcome: ``{value|error|delay[, type]}`` as written (checked by
    :class:`MockOutcome`), else a value."""
    written = isinstance(value, dict) and value and set(value) <= _OUTCOME_KEYS
    if written and ({"value", "error", "delay"} & set(value)):
        return value
    return {"value": value}


class Mock(_Strict):
    """The outcomes of an action's calls, in order; calls past the last repeat the last."""

    outcomes: list[MockOutcome] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _read(cls, value: Any) -> Any:
        if isinstance(value, dict) and set(value) == {"outcomes"}:
            return value
        if value == []:
            raise ValueError("an empty sequence: give at least one outcome (a value, "
                             "{value: X} or {error: MESSAGE})")  # fmt: skip
        items = value if isinstance(value, list) else [value]
        return {"outcomes": [_outcome(item) for item in items]}


class TriggerEvent(_Strict):
    """The event that starts the run, as if emitted on the bus."""

    type: str = Field(min_length=1)
    data: Any = None
    id: str | None = None


class ScriptedEvent(_Strict):
    """One line of a state machine's script: let ``advance`` seconds of virtual time pass, then
    send the event ``type`` (with ``data``) to the instance. Either may be left out."""

    type: str | None = Field(None, min_length=1)
    data: Any = None
    id: str | None = None
    advance: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _something(self) -> ScriptedEvent:
        if self.type is None and self.advance is None:
            raise ValueError("give an event 'type', an 'advance' in seconds, or both")
        return self


class TaskAnswer(_Strict):
    """How a human task opened by a step is answered: as its assignee (or ``by``), ``after``
    seconds of virtual time."""

    decision: str | None = None
    data: Any = None
    comment: str | None = None
    by: str | None = None
    after: float = Field(0.0, ge=0)


class StepExpectation(_Strict):
    """What a step must have done: ``status`` completed, failed, skipped or not-run; its
    attempts, output (a subset), error (a substring) and skip reason (a substring)."""

    status: Literal["completed", "succeeded", "failed", "skipped", "not-run"] | None = None
    attempts: int | None = Field(None, ge=0)
    output: Any = None
    error: str | None = None
    reason: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _status_only(cls, value: Any) -> Any:
        return {"status": value} if isinstance(value, str) else value


class CallExpectation(_Strict):
    """How an action was called: ``count`` calls; ``args``: the input of each call by index, as
    a subset (``null``: not checked)."""

    count: int | None = Field(None, ge=0)
    args: list[Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _count_only(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return {"count": value}
        return value


class EventExpectation(_Strict):
    """An event the scenario must have emitted: its type, and its data as a subset."""

    type: str
    data: Any = None


class Expectation(_Strict):
    """What must come out of a scenario. Every field is optional; ``output``, ``context`` and
    step outputs are matched as subsets (see ``docs/testing.md``)."""

    status: Literal["pending", "running", "waiting", "succeeded", "failed", "cancelled"] | None = (
        None
    )
    outcome: Literal["succeeded", "partial", "failed", "cancelled"] | None = None
    output: Any = None
    error: str | None = Field(None, description="A substring of the run's error message.")
    steps: dict[str, StepExpectation] = Field(default_factory=dict)
    calls: dict[str, CallExpectation] = Field(default_factory=dict)
    events: list[EventExpectation] = Field(default_factory=list)
    triggered: bool | None = Field(
        None, strict=True, description="Whether the trigger event started a run."
    )
    max_duration: float | None = Field(None, ge=0, description="Virtual seconds, at most.")
    state: str | None = None
    visited: list[str] | None = None
    context: Any = None
    rejected: list[str] | None = None

    @model_validator(mode="after")
    def _nothing_beside_no_run(self) -> Expectation:
        others = sorted(self.model_fields_set - {"triggered"})
        if self.triggered is False and others:
            listing = ", ".join(_ALIASES.get(k, k) for k in others)
            raise ValueError(f"with triggered: false no run starts, so nothing else can be "
                             f"checked: leave out {listing}")  # fmt: skip
        return self


_ALIASES = {"max_duration": "maxDuration"}
MACHINE_ONLY = ("state", "visited", "context", "rejected")
"""Expectations about a state machine instance."""


class Scenario(_Strict):
    """One scenario: a start (``input``, ``event``, or a machine's ``events``), mocks, task
    answers, secrets, and expectations."""

    name: str = Field(min_length=1)
    description: str | None = None
    input: Any = None
    event: TriggerEvent | None = None
    events: list[ScriptedEvent] | None = None
    key: str = Field("scenario", min_length=1, description="A state machine instance's key.")
    mocks: dict[str, Mock] = Field(default_factory=dict)
    tasks: dict[str, TaskAnswer] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(default_factory=dict)
    expect: Expectation = Field(default_factory=Expectation)

    @model_validator(mode="after")
    def _one_start(self) -> Scenario:
        given = [k for k in ("input", "event", "events") if k in self.model_fields_set]
        if len(given) > 1:
            raise ValueError(f"give one of input, event or events, not {' and '.join(given)}")
        return self


class Scenarios(_Strict):
    """A scenario file, or a stored workflow's ``tests``: the scenarios, the definition file
    they test (a file's ``workflow``, relative to it), and whether activation requires them
    to pass (``required``)."""

    workflow: str | None = None
    required: bool = Field(False, strict=True)
    scenarios: list[Scenario] = Field(min_length=1)

    @field_validator("scenarios")
    @classmethod
    def _unique(cls, scenarios: list[Scenario]) -> list[Scenario]:
        seen: set[str] = set()
        for scenario in scenarios:
            if scenario.name in seen:
                raise ValueError(f"two scenarios are named {scenario.name!r}")
            seen.add(scenario.name)
        return scenarios


class InvalidScenarios(ValueError):
    """The scenarios cannot be read; ``problems`` says where and why."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        listing = "".join(f"\n  {p}" for p in problems)
        super().__init__(f"invalid scenarios ({len(problems)} problems):{listing}")


def read_scenarios(document: Any, path: str = "$") -> Scenarios:
    """The scenarios of ``document`` (a scenario file's content, or a workflow's ``tests``);
    ``InvalidScenarios`` lists every problem, each at its path under ``path``."""
    if isinstance(document, dict) and "scenarios" not in document and "tests" in document:
        document, path = document["tests"], f"{path}.tests"
    if isinstance(document, list):
        document = {"scenarios": document}
    try:
        return Scenarios.model_validate(document)
    except ValidationError as exc:
        raise InvalidScenarios(
            [
                Problem(loc_path(path, _as_written(document, tuple(e["loc"]))), _message(e))
                for e in exc.errors()
            ]
        ) from exc


def _as_written(document: Any, loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """An error's location as the user wrote it: a mock's ``outcomes[i]`` is its sequence's
    item ``[i]``, or nothing when the mock is a single outcome."""
    for at in range(len(loc) - 2):
        if loc[at] == "mocks" and loc[at + 2] == "outcomes":
            written: Any = document
            for part in loc[: at + 2]:
                try:
                    written = written[part]
                except (KeyError, IndexError, TypeError):
                    return loc
            skip = 1 if isinstance(written, list) else 2
            return (*loc[: at + 2], *loc[at + 2 + skip :])
    return loc


def scenario_problems(document: Any, path: str) -> list[Problem]:
    """The problems of a ``tests`` block at ``path`` (none: it reads)."""
    try:
        read_scenarios(document, path)
    except InvalidScenarios as exc:
        return exc.problems
    return []


def _message(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key"
    if error["type"] in ("value_error", "assertion_error"):
        return str(error.get("ctx", {}).get("error", error["msg"]))
    return message(error)
