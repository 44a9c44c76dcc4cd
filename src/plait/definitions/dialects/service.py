"""The service-steps dialect (brief 003): a graph of typed steps linked by ``dependsOn``.

    {"name": "Order Fulfillment Automation",
     "steps": [{"id": "validate", "type": "function", "timeout": 5000},
               {"id": "inventory", "type": "parallel", "dependsOn": ["validate"],
                "steps": [{"id": "check-stock"}, {"id": "reserve"}]}],
     "errorHandling": {"defaultRetryPolicy": {"maxAttempts": 2}}}

A step without ``dependsOn`` starts at once. A step without ``type`` is a ``function`` step; its
action is its ``function`` key, else its id (services register functions by step id). ``then`` and
``else`` take one step or a list; ``onError`` takes a policy name (``stop``, ``continue``,
``rollback``, ``retry``, ``log-and-continue``, ``human-review``: a person decides, see
``reviewer``), a fallback step, or any other name as a fallback action;
``compensation`` takes a function name, a function step, a list, or ``{steps: [...]}``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag

from plait.definitions.dialects import (
    DelayMillis,
    Events,
    Normalised,
    PositiveMillis,
    RetrySource,
    Source,
    build,
    name,
    read,
    retry,
    seconds,
    show,
    stand_in,
    template_condition,
    trigger,
)
from plait.definitions.dialects.human_task import KEYS as TASK_KEYS
from plait.definitions.dialects.human_task import human_task, known_names, person
from plait.definitions.model import (
    NOT_REVIEWED,
    REVIEW_ACTION,
    REVIEWLESS,
    ActionStep,
    ConditionStep,
    ErrorPolicy,
    ForeachStep,
    ParallelStep,
    SleepStep,
    Step,
    WaitStep,
    WorkflowStep,
)
from plait.definitions.validate import Findings, join

TYPES = (
    "function", "parallel", "condition", "sleep", "foreach", "wait-for-event", "human-task",
    "workflow",
)  # fmt: skip
_COMMON = {
    "id", "name", "description", "type", "dependsOn", "required", "timeout", "retryPolicy",
    "onError", "compensation", "condition", "reviewer",
}  # fmt: skip
_ONLY = {
    "function": {"function", "action", "input"},
    "parallel": {"strategy", "steps"},
    "condition": {"then", "else"},
    "sleep": {"duration", "seconds"},
    "foreach": {"items", "as", "concurrency", "steps"},
    "wait-for-event": {"event", "match"},
    "human-task": set(TASK_KEYS),
    "workflow": {"workflow", "input", "wait"},
}
_NOT_YET: dict[str, str] = {}
POLICIES: dict[str, ErrorPolicy] = {
    "stop": "stop", "continue": "continue", "rollback": "rollback", "retry": "stop",
    "log-and-continue": "continue",
}  # fmt: skip
"""``onError`` names of policies; any other name is a fallback action, but ``human-review``."""
REVIEW = REVIEW_ACTION
"""``onError: human-review``: a person reviews the failure, unless an action of that name is
registered (then it is called with the step's input, as a fallback)."""


def _number_or_text(value: Any) -> str:
    return "~text" if isinstance(value, str) else "~number"


NumberOrText = Annotated[
    Annotated[float, Tag("~number")] | Annotated[str, Tag("~text")],
    Discriminator(_number_or_text),
]


class ServiceStep(Source):
    """One step of any type; which keys apply depends on ``type``."""

    id: str | None = Field(default=None, min_length=1)
    name: str | None = None
    description: str | None = None
    type: str | None = None
    function: str | None = Field(default=None, min_length=1)
    action: str | None = Field(default=None, min_length=1)
    input: Any = None
    depends_on: list[str] | None = Field(default=None, alias="dependsOn")
    required: bool | None = None
    timeout: PositiveMillis | None = None
    retry_policy: RetrySource | None = Field(default=None, alias="retryPolicy")
    on_error: Any = Field(default=None, alias="onError")
    reviewer: str | None = None
    compensation: Any = None
    condition: str | None = None
    strategy: Literal["all", "any", "first"] | None = None
    steps: list[Any] | None = None
    then: Any = None
    else_: Any = Field(default=None, alias="else")
    items: str | None = None
    as_: str | None = Field(default=None, alias="as", min_length=1)
    concurrency: int | None = Field(default=None, ge=1)
    duration: DelayMillis | None = None
    seconds: NumberOrText | None = None
    event: str | None = Field(default=None, min_length=1)
    match: str | None = None
    assign_to: Any = Field(default=None, alias="assignTo")
    escalation_policy: Any = Field(default=None, alias="escalationPolicy")
    title: Any = None
    choices: Any = None
    form: Any = None
    data: Any = None
    workflow: str | None = Field(default=None, min_length=1)
    wait: bool | None = None


class ServiceErrorHandling(Source):
    default_retry_policy: RetrySource | None = Field(default=None, alias="defaultRetryPolicy")
    compensation_strategy: Literal["reverse-order"] | None = Field(
        default=None, alias="compensationStrategy"
    )
    notify_on_failure: bool | None = Field(default=None, alias="notifyOnFailure")


class ServiceWorkflow(Source):
    """A service definition; ``type``, ``subtype`` and ``pricing`` are kept as metadata."""

    name: str | None = None
    description: str | None = None
    dialect: Literal["service"] | None = None
    type: Any = None
    subtype: Any = None
    trigger_event: Events | None = Field(default=None, alias="triggerEvent")
    input_schema: dict[str, Any] | None = Field(default=None, alias="inputSchema")
    output_schema: dict[str, Any] | None = Field(default=None, alias="outputSchema")
    steps: list[Any]
    error_handling: ServiceErrorHandling | None = Field(default=None, alias="errorHandling")
    timeout: PositiveMillis | None = None
    pricing: dict[str, Any] | None = None


def normalise(document: dict[str, Any], findings: Findings) -> Normalised:
    """Read a service-dialect document into the canonical model."""
    source = read(ServiceWorkflow, document, "$", findings)
    if source is None:
        return Normalised(None)
    reader = _Reader(findings, known_names(document))
    steps = [reader.step(raw, f"$.steps[{i}]") for i, raw in enumerate(source.steps)]
    handling = source.error_handling or ServiceErrorHandling()
    metadata = {
        key: value
        for key, value in [
            ("type", source.type),
            ("subtype", source.subtype),
            ("pricing", source.pricing),
            ("notifyOnFailure", handling.notify_on_failure),
        ]
        if value is not None
    }
    definition = build(findings, {
        "name": name(source.name, "$.name", findings),
        "description": source.description,
        "dialect": "service",
        "trigger": trigger(source.trigger_event),
        "input_schema": source.input_schema,
        "output_schema": source.output_schema,
        "steps": steps,
        "retry": retry(handling.default_retry_policy),
        "timeout": seconds(source.timeout),
        "compensation_strategy": handling.compensation_strategy or "reverse-order",
        "metadata": metadata,
    })  # fmt: skip
    sources = {
        "retry": "$.errorHandling.defaultRetryPolicy",
        "input_schema": "$.inputSchema",
        "output_schema": "$.outputSchema",
    }
    return Normalised(definition, sources, reader.unreadable)


def read_step(
    raw: Any,
    path: str,
    default_id: str,
    known: frozenset[str],
    findings: Findings,
    unreadable: set[str],
) -> Step:
    """One service step (of any ``type``) read into the canonical model, for a dialect that
    lets a step of another kind stand among its own; steps it could not read join
    ``unreadable``."""
    reader = _Reader(findings, known)
    step = reader.step(raw, path, default_id)
    unreadable |= reader.unreadable
    return step


class _Reader:
    """Reads steps recursively (children, branches, fallbacks, compensations)."""

    def __init__(self, findings: Findings, known: frozenset[str] = frozenset()) -> None:
        self.findings = findings
        self.known = known
        self.unreadable: set[str] = set()

    def step(self, raw: Any, path: str, default_id: str | None = None) -> Step:
        item = read(ServiceStep, raw, path, self.findings)
        fallback_id = default_id or path
        if item is None:
            return stand_in(raw, path, fallback_id, self.unreadable)
        kind = item.type or "function"
        if kind not in TYPES:
            if kind in _NOT_YET:
                message = f"{_NOT_YET[kind]} ({kind!r} steps) are not supported yet"
            else:
                message = f"unknown step type {kind!r}; expected one of {', '.join(TYPES)}"
            self.findings.error(join(path, "type"), message)
            return stand_in(raw, path, fallback_id, self.unreadable)
        step_id = item.id or default_id
        if step_id is None:
            self.findings.error(join(path, "id"), "required key 'id' is missing")
            return stand_in(raw, path, fallback_id, self.unreadable)
        self.ignored(raw, kind, path)
        return self.typed(item, kind, step_id, path)

    def ignored(self, raw: dict[str, Any], kind: str, path: str) -> None:
        for key in raw:
            elsewhere = key not in _COMMON and any(key in keys for keys in _ONLY.values())
            if elsewhere and key not in _ONLY[kind]:
                self.findings.warn(join(path, key), f"{key!r} is ignored on a {kind} step")

    def typed(self, item: ServiceStep, kind: str, step_id: str, path: str) -> Step:
        policy, fallback = self.on_error(item, step_id, path)
        if policy == "human-review" and kind in REVIEWLESS:
            self.findings.error(join(path, "onError"), NOT_REVIEWED)
            policy, fallback = None, []
        common: dict[str, Any] = {
            "id": step_id,
            "name": item.name,
            "depends_on": item.depends_on or [],
            "required": item.required,
            "timeout": seconds(item.timeout),
            "retry": retry(item.retry_policy),
            "on_error": policy,
            "reviewer": self.reviewer(item, policy, path),
            "fallback": fallback,
            "compensation": self.compensation(item.compensation, step_id, path),
            "path": path,
            "sources": {"depends_on": "dependsOn", "retry": "retryPolicy", "on_error": "onError"},
        }
        if kind == "condition":
            return self.condition(item, path, common)
        common["condition"] = template_condition(item.condition)
        if kind == "human-task":
            return human_task(item, path, common, self.findings, self.known)
        if kind == "workflow":
            return self.workflow(item, path, common)
        if kind == "parallel":
            return ParallelStep(strategy=item.strategy or "all", steps=self.children(item, path),
                                **common)  # fmt: skip
        if kind == "foreach":
            if item.items is None:
                self.findings.error(join(path, "items"), "a foreach step needs 'items'")
            common["as"] = item.as_ or "item"
            return ForeachStep(items=item.items or "[]", concurrency=item.concurrency or 1,
                               steps=self.children(item, path), **common)  # fmt: skip
        if kind == "sleep":
            return self.sleep(item, path, common)
        if kind == "wait-for-event":
            if item.event is None:
                self.findings.error(join(path, "event"), "a wait-for-event step needs 'event'")
            return WaitStep(event=item.event or "?", match=template_condition(item.match),
                            **common)  # fmt: skip
        common["sources"]["action"] = "function" if item.function else (
            "action" if item.action else "id"
        )  # fmt: skip
        action = item.function or item.action or step_id
        return ActionStep(action=action, input=item.input, **common)

    def workflow(self, item: ServiceStep, path: str, common: dict[str, Any]) -> WorkflowStep:
        """A child workflow: ``workflow`` (name or id), ``input`` (a template), ``wait``."""
        if item.workflow is None:
            self.findings.error(join(path, "workflow"), "a workflow step needs 'workflow' "
                                "(the name or id of the workflow to run)")  # fmt: skip
        wait = True if item.wait is None else item.wait
        return WorkflowStep(workflow=item.workflow or "?", input=item.input, wait=wait, **common)

    def condition(self, item: ServiceStep, path: str, common: dict[str, Any]) -> ConditionStep:
        if item.condition is None:
            self.findings.error(join(path, "condition"), "a condition step needs 'condition'")
        common["sources"]["test"] = "condition"
        common["else"] = self.branch(item.else_, join(path, "else"))
        return ConditionStep(
            test=template_condition(item.condition) or "false",
            then=self.branch(item.then, join(path, "then")),
            **common,
        )

    def sleep(self, item: ServiceStep, path: str, common: dict[str, Any]) -> SleepStep:
        if item.duration is not None and item.seconds is not None:
            self.findings.error(join(path, "seconds"), "give 'duration' or 'seconds', not both")
        if item.duration is not None:
            common["sources"]["seconds"] = "duration"
            return SleepStep(seconds=seconds(item.duration), **common)
        if item.seconds is None:
            self.findings.error(path, "a sleep step needs 'duration' (ms) or 'seconds'")
        return SleepStep(seconds=item.seconds if item.seconds is not None else 0.0, **common)

    def children(self, item: ServiceStep, path: str) -> list[Step]:
        where = join(path, "steps")
        if not item.steps:
            self.findings.error(where, f"a {item.type} step needs at least one step in 'steps'")
            return [stand_in({}, where, f"{item.id}.missing", self.unreadable)]
        return [self.step(raw, join(where, i)) for i, raw in enumerate(item.steps)]

    def branch(self, value: Any, where: str) -> list[Step]:
        """``then``/``else``: one step, or a list of steps run in order."""
        if value is None:
            return []
        if isinstance(value, dict):
            return [self.step(value, where)]
        if isinstance(value, list):
            return [self.step(raw, join(where, i)) for i, raw in enumerate(value)]
        self.findings.error(where, f"expected a step or a list of steps, got {show(value)}")
        return []

    def on_error(
        self, item: ServiceStep, step_id: str, path: str
    ) -> tuple[ErrorPolicy | None, list[Step]]:
        """A policy name (``stop``, ``continue``, ``rollback``, ``retry``: the retry policy,
        then stop; ``log-and-continue``: continue), or a fallback: an action name (the brief's
        ``'human-review'``, called with the step's own input), ``{fallback: step}``, or a
        step."""
        value, where = item.on_error, join(path, "onError")
        if value is None:
            return None, []
        if isinstance(value, dict):
            if set(value) == {"fallback"}:
                inner = join(where, "fallback")
                return "fallback", self.fallbacks(value["fallback"], step_id, inner, item)
            return "fallback", self.fallbacks(value, step_id, where, item)
        if isinstance(value, str) and value.strip().lower() in POLICIES:
            return POLICIES[value.strip().lower()], []
        if isinstance(value, str) and value.strip().lower() == REVIEW:
            # A registered action of that name is still the fallback it was (the interpreter
            # calls it); without one, a person reviews the failure.
            return "human-review", self.fallbacks(REVIEW, step_id, where, item)
        if isinstance(value, str) and value.strip().lower() == "fallback":
            self.findings.error(where, "onError 'fallback' needs a step to run: "
                                "write onError: {fallback: {id, function}}")  # fmt: skip
            return None, []
        if isinstance(value, str) and value.strip():
            return "fallback", self.fallbacks(value.strip(), step_id, where, item)
        self.findings.error(
            where,
            f"expected a policy ({', '.join([*POLICIES, REVIEW])}), an action name or a "
            "fallback step, "
            f"got {show(value)}",
        )
        return None, []

    def reviewer(self, item: ServiceStep, policy: ErrorPolicy | None, path: str) -> str | None:
        """Who reviews the step's failures under ``human-review``: a name or an expression, as
        ``assignTo``; ignored (with a warning) under another policy."""
        if item.reviewer is None:
            return None
        where = join(path, "reviewer")
        if policy != "human-review":
            self.findings.warn(where, "'reviewer' is ignored unless onError is 'human-review'")
            return None
        return person(item.reviewer, where, self.findings, self.known)

    def fallbacks(self, value: Any, step_id: str, where: str, item: ServiceStep) -> list[Step]:
        if isinstance(value, str) and value:
            # Called with the failed step's input: its path is the step's, so that a problem in
            # that input is reported once, where it is written.
            owner = where.rsplit(".onError", 1)[0]
            source = where[len(owner) + 1 :]
            return [ActionStep(id=f"{step_id}.fallback", action=value, input=item.input,
                               path=owner, sources={"action": source})]  # fmt: skip
        if isinstance(value, list):
            return [
                self.step(raw, join(where, i), f"{step_id}.fallback-{i + 1}")
                for i, raw in enumerate(value)
            ]
        return [self.step(value, where, f"{step_id}.fallback")]

    def compensation(self, value: Any, step_id: str, path: str) -> list[ActionStep]:
        """An action name, one step, a list of steps, or ``{steps: [...]}`` (the brief's form):
        action steps run in order if the run fails after this step (or, with ``onError:
        rollback``, when it fails)."""
        where = join(path, "compensation")
        if value is None:
            return []
        if isinstance(value, str) and value:
            return [ActionStep(id=f"{step_id}.compensate", action=value, path=where,
                               sources={"action": ""})]  # fmt: skip
        if isinstance(value, dict) and "steps" in value:
            for key in sorted(set(value) - {"steps"}):
                self.findings.warn(join(where, key), f"{key!r} is ignored in a compensation")
            where, value = join(where, "steps"), value["steps"]
            if not isinstance(value, list) or not value:
                self.findings.error(where, f"expected a list of steps, got {show(value)}")
                return []
        if isinstance(value, dict):
            step = self.undo(value, where, f"{step_id}.compensate")
            return [step] if step is not None else []
        if isinstance(value, list):
            found = [
                self.undo(raw, join(where, i), f"{step_id}.compensate-{i + 1}")
                for i, raw in enumerate(value)
            ]
            return [step for step in found if step is not None]
        self.findings.error(where, f"expected an action name, a step or a list of steps, "
                            f"got {show(value)}")  # fmt: skip
        return []

    def undo(self, raw: Any, where: str, default_id: str) -> ActionStep | None:
        """One compensation step: a function step, or the brief's ``{action, params,
        stepId}``: ``params`` is its input, ``stepId`` the step whose output it sees."""
        if isinstance(raw, str) and raw:
            return ActionStep(id=default_id, action=raw, path=where, sources={"action": ""})
        if not isinstance(raw, dict):
            self.findings.error(where, f"expected an action name or a step, got {show(raw)}")
            return None
        raw = dict(raw)
        params, undoes = raw.pop("params", None), raw.pop("stepId", None)
        if params is not None and "input" in raw:
            self.findings.error(join(where, "params"), "give 'params' or 'input', not both")
        if undoes is not None and not (isinstance(undoes, str) and undoes):
            self.findings.error(join(where, "stepId"), f"expected a step id, got {show(undoes)}")
            undoes = None
        if params is not None:
            raw["input"] = params
        step = self.step(raw, where, default_id)
        if not isinstance(step, ActionStep):
            self.findings.error(join(where, "type"), "a compensation must be a function step")
            return None
        step.undoes = undoes
        if params is not None:
            step.sources["input"] = "params"
        step.sources["undoes"] = "stepId"
        return step
