"""The canonical model of a declarative workflow.

Every dialect (platform-entity steps, function steps, service steps, node graphs) is normalised
into this one model; the interpreter runs only this. Times are in seconds. Expressions are CEL
source as written (the JavaScript forms of the brief are rewritten when compiled); ``input``
fields are templates (see ``plait.expressions.compile_template``).

``path`` on each step is the JSON path of the step in the source document, so that validation
reports problems where the author wrote them; ``sources`` maps a canonical field name to the
source key when it differs (``{"input": "mapping", "depends_on": "dependsOn"}``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from plait.retry import RetryPolicy

ErrorPolicy = Literal["stop", "continue", "fallback", "rollback", "human-review"]
"""After a step's retries: ``stop`` fails the run (completed steps are compensated),
``rollback`` too, and runs the failed step's own compensation first; ``continue`` records
the failure and carries on; ``fallback`` runs the step's fallback steps; ``human-review``
opens a task for a person who decides: retry the step, skip it (as ``continue``) or fail the
run (when an action named ``human-review`` is registered, the step's fallback steps, a call
of that action, run instead). A group (parallel, condition, foreach) cannot be reviewed: its
own steps are, and the group then follows ``stop``."""
Dialect = Literal["canonical", "entity", "function", "service", "graph", "machine"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Retry(_Model):
    """A retry policy; delays in seconds."""

    max_attempts: int = Field(3, ge=1)
    backoff: Literal["exponential", "linear", "constant"] = "exponential"
    initial_delay: float = Field(1.0, ge=0)
    multiplier: float = Field(2.0, gt=0)
    max_delay: float = Field(300.0, ge=0)
    jitter: float = Field(0.0, ge=0, le=1)
    non_retryable: list[str] = Field(default_factory=list)

    def policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.max_attempts, backoff=self.backoff,
            initial_delay=self.initial_delay, multiplier=self.multiplier,
            max_delay=self.max_delay, jitter=self.jitter,
            non_retryable=tuple(self.non_retryable),
        )  # fmt: skip


class _Step(_Model):
    id: str = Field(min_length=1)
    name: str | None = None
    depends_on: list[str] = Field(default_factory=list)
    """Sibling steps whose results this one needs: it starts when they have ended, and is
    skipped (reason ``dependency``) when one of them failed or was itself so skipped."""
    after: list[str] = Field(default_factory=list)
    """Sibling steps this one starts after for order only (the steps of a dialect that runs
    them in turn): their failure under ``continue`` does not skip it."""
    condition: str | None = None
    """An expression; when it is false the step is ``skipped`` (its output is null)."""
    required: bool | None = None
    """``false``: the step may fail without failing the run. ``true``: the step must run, so
    a false ``condition`` fails the run instead of skipping it. Unset: a failure follows the
    error policy and a false condition skips the step."""
    timeout: float | None = Field(default=None, gt=0)
    retry: Retry | None = None
    on_error: ErrorPolicy | None = None
    """None: the workflow's policy."""
    reviewer: str | None = Field(default=None, min_length=1)
    """Under ``human-review``: who reviews the step's failure, a template like ``assign_to``
    (None: the workflow's reviewer, else the organization's shared inbox ``*``)."""
    fallback: list[Step] = Field(default_factory=list)
    """Run instead when the step fails after its retries and its policy is ``fallback``."""
    compensation: list[ActionStep] = Field(default_factory=list)
    """Action steps run in order to undo this step when the run fails after it completed
    (steps are undone in reverse order of completion); one step may be given without a list."""
    metrics: dict[str, str] = Field(default_factory=dict)
    """Business metrics recorded when the step succeeds: metric name to an expression over
    its ``output`` (and everything a condition sees) giving a number. Each name must be
    declared in the definition's ``metrics``."""
    path: str = ""
    sources: dict[str, str] = Field(default_factory=dict)

    @field_validator("compensation", mode="before")
    @classmethod
    def _one_or_more(cls, value: Any) -> Any:
        if value is None:
            return []
        return value if isinstance(value, list) else [value]

    @model_validator(mode="after")
    def _reviewable(self) -> _Step:
        if self.on_error == "human-review" and getattr(self, "kind", None) in REVIEWLESS:
            raise ValueError(NOT_REVIEWED)
        return self


REVIEW_ACTION = "human-review"
"""An action of this name, when registered, is what ``onError: human-review`` calls (with the
step's input, as a fallback) instead of opening a review task."""
REVIEWLESS = ("parallel", "condition", "foreach")
"""Kinds a ``human-review`` cannot retry as one step (their own steps are reviewed)."""
NOT_REVIEWED = ("a group step (parallel, condition, foreach) cannot have the error policy "
                "human-review: give it to the steps inside it")  # fmt: skip


class StepCache(_Model):
    """An action step's ``cache`` (``plait.definitions.step_cache``): ``key``, a template over
    the names the step's input sees, identifies a result; an entry lives ``ttl`` seconds;
    ``namespace`` (None: this workflow's step) is the scope entries are shared in."""

    key: str = Field(min_length=1)
    ttl: float = Field(gt=0, description="Seconds; a document may write '90s', '30m', '1h'.")
    namespace: str | None = Field(default=None, min_length=1)


class ActionStep(_Step):
    """Call an action (a registered callable or a built-in) with a templated input."""

    kind: Literal["action"] = "action"
    action: str = Field(min_length=1)
    input: Any = None
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    undoes: str | None = None
    """On a compensation step: the id of the step whose output it sees as ``output`` and
    ``result`` (default: the step the compensation belongs to)."""
    cache: StepCache | None = None
    """Answer the step from the step-result cache when a live entry has its key."""
    limits: dict[str, Any] = Field(default_factory=dict)
    """Its flow limits, checked (``rateLimit``, ``bulkhead``, ``circuitBreaker``: see
    ``plait.definitions.step_limits``); they add to those of its action."""
    context: Any = None
    """The step's own context (a node graph's node-level context): a template of an object,
    rendered as the step starts, that only this step sees (``node`` in its expressions).
    Only in a workflow that has a ``context``."""
    assign: Any = None
    """What the step writes to the workflow context when it succeeds: a template of an
    object over its ``output`` (and ``node``), merged into the context. Only in a workflow
    that has a ``context``."""


class ParallelStep(_Step):
    """Run child steps concurrently: ``all`` of them, the first success (``any``), or the
    first to finish (``first``)."""

    kind: Literal["parallel"] = "parallel"
    strategy: Literal["all", "any", "first"] = "all"
    steps: list[Step] = Field(min_length=1)


class ConditionStep(_Step):
    """Run ``then`` or ``else`` depending on an expression; the branch taken is recorded."""

    kind: Literal["condition"] = "condition"
    test: str
    then: list[Step] = Field(default_factory=list)
    else_: list[Step] = Field(default_factory=list, alias="else")


class ForeachStep(_Step):
    """Run ``steps`` once per item of a list, at most ``concurrency`` items at a time."""

    kind: Literal["foreach"] = "foreach"
    items: str
    """An expression giving the list."""
    as_: str = Field("item", alias="as")
    concurrency: int = Field(1, ge=1)
    steps: list[Step] = Field(min_length=1)


class SleepStep(_Step):
    """Wait durably for ``seconds``: a number, or an expression giving one."""

    kind: Literal["sleep"] = "sleep"
    seconds: float | str | None = None
    """A number of seconds, or an expression giving one."""


class WaitStep(_Step):
    """Wait for an event of type ``event`` (matching ``match``, an expression over ``event``);
    its output is the event, or null when ``timeout`` seconds pass first."""

    kind: Literal["wait"] = "wait"
    event: str = Field(min_length=1)
    match: str | None = None


class HumanTaskStep(_Step):
    """Ask a person: create a task for ``assign_to`` and wait until it is completed; its output
    is ``{taskId, decision, approved, comment, data, completedBy, completedAt}``. ``timeout``
    is the task's due time: then it expires and the step fails (its error policy applies).
    ``title``, ``description``, ``assign_to`` and ``escalate_to`` are templates (``"{{ expr }}"``
    yields a value; other text is literal)."""

    kind: Literal["human-task"] = "human-task"
    title: str | None = None
    """Default: the step's name, else its id."""
    description: str | None = None
    assign_to: str = Field(min_length=1)
    choices: list[str] | None = None
    """Default ``["approve", "reject"]`` unless a ``form`` is given."""
    form: dict[str, Any] | None = None
    """A JSON Schema of the answer's ``data``."""
    data: Any = None
    """A template of data shown with the task."""
    escalate_after: float | None = Field(default=None, gt=0)
    escalate_to: str | None = None

    def templates(self) -> list[tuple[str, Any]]:
        """``(field, template)`` of each templated field that is set."""
        fields = ("title", "description", "assign_to", "escalate_to", "data")
        return [(f, getattr(self, f)) for f in fields if getattr(self, f) is not None]


class WorkflowStep(_Step):
    """Run another workflow as a child run: ``workflow`` is a stored workflow's name or
    ``workflow_`` id (in the run's organization, current version pinned) or a code workflow's
    name; ``input`` is a template. The step's output is the child's output; with ``wait:
    false`` the step only starts the child and its output is ``{runId, workflow}``. A child
    that fails or is cancelled fails the step (``plait.ChildWorkflowFailed``)."""

    kind: Literal["workflow"] = "workflow"
    workflow: str = Field(min_length=1)
    input: Any = None
    wait: bool = True


Step = Annotated[
    ActionStep
    | ParallelStep
    | ConditionStep
    | ForeachStep
    | SleepStep
    | WaitStep
    | HumanTaskStep
    | WorkflowStep,
    Field(discriminator="kind"),
]


class Debounce(_Model):
    """Collapse events with the same key within ``delay`` seconds into one run (the last)."""

    key: str
    """An expression over the event (``event``, its entity) giving the key."""
    delay: float = Field(gt=0)


class Trigger(_Model):
    """What starts the workflow: events (types) with an optional filter expression."""

    events: list[str] = Field(default_factory=list)
    filter: str | None = None
    """An expression over ``event`` and its entity (``deal``); false: the event is ignored."""
    debounce: Debounce | None = None
    manual: bool = True


class MachineTransition(_Model):
    """Where an event (or a state's timeout) leads: ``target``, taken only if ``guard`` (an
    expression) holds; ``actions`` run as steps on the way; ``assign`` (a template of an object,
    which also sees ``output``, the last action's output) is merged into the machine context."""

    target: str
    guard: str | None = None
    actions: list[Step] = Field(default_factory=list)
    assign: Any = None
    path: str = ""
    sources: dict[str, str] = Field(default_factory=dict)
    """Source keys of fields; ``{"target": ""}``: the transition was written as its target."""


MachineOutcome = Literal["succeeded", "failed", "cancelled"]
"""How an instance that ends in a terminal state ended (its run's outcome)."""


class MachineRetry(_Model):
    """A state's ``retry``: the event ``on`` re-enters the state (exit and entry steps run
    again) until the state has been entered ``max_attempts`` times in a row; then the state's
    own transition for that event is taken."""

    max_attempts: int = Field(ge=1)
    on: str = Field(min_length=1)


class MachineState(_Model):
    """One state: its transitions by event name, entry and exit steps, an optional timeout
    (seconds) with the transition it takes, whether it ends the machine and with what
    ``outcome`` (None: ``succeeded``), and an optional ``retry``."""

    on: dict[str, MachineTransition] = Field(default_factory=dict)
    entry: list[Step] = Field(default_factory=list)
    exit: list[Step] = Field(default_factory=list)
    timeout: float | None = Field(default=None, gt=0)
    timeout_transition: MachineTransition | None = None
    terminal: bool = False
    outcome: MachineOutcome | None = None
    retry: MachineRetry | None = None
    path: str = ""

    @property
    def final(self) -> bool:
        """Terminal, or with nowhere to go."""
        return self.terminal or (not self.on and self.timeout_transition is None)


class Machine(_Model):
    """A state machine: one instance (a run) per correlation key."""

    initial: str
    states: dict[str, MachineState] = Field(min_length=1)
    correlation: str | None = None
    """An expression over ``event`` (and ``data``) giving the instance's key; None: events on
    the bus do not reach the machine, and instances are addressed by key only (``send``)."""
    events: dict[str, str] = Field(default_factory=dict)
    """Event type -> the event name ``on`` uses; an unmapped type is its own name."""
    start: list[str] = Field(default_factory=list)
    """Event types that create an instance without being a transition."""
    context: Any = None
    """A template over ``input`` for the initial context; by default the input itself."""

    def name_of(self, event_type: str) -> str:
        return self.events.get(event_type, event_type)

    def listens_to(self) -> list[str]:
        """Every event type that reaches the machine from the event bus."""
        names = set(self.events.values())
        found = dict.fromkeys([*self.events, *self.start])
        for state in self.states.values():
            retried = [state.retry.on] if state.retry is not None else []
            found.update(dict.fromkeys(n for n in [*state.on, *retried] if n not in names))
        return list(found)

    def steps(self) -> list[Step]:
        """Every entry, exit and transition step (not nested ones)."""
        found: list[Step] = []
        for state in self.states.values():
            found.extend(state.entry)
            found.extend(state.exit)
            moves = [*state.on.values(), state.timeout_transition]
            for move in moves:
                found.extend(move.actions if move is not None else [])
        return found

    def can_start(self, event_type: str) -> bool:
        """Whether an event of this type creates an instance that does not exist yet."""
        initial = self.states.get(self.initial)
        return event_type in self.start or (
            initial is not None and self.name_of(event_type) in initial.on
        )


class MetricDeclaration(_Model):
    """A business metric the workflow's runs may record (brief 001 ``{name, description}``)."""

    name: str = Field(min_length=1)
    description: str | None = None


class Definition(_Model):
    """A declarative workflow, normalised."""

    name: str = Field(min_length=1)
    description: str | None = None
    dialect: Dialect = "canonical"
    trigger: Trigger | None = None
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    steps: list[Step] = Field(default_factory=list)
    """At least one, unless the workflow is a state machine."""
    machine: Machine | None = None
    retry: Retry | None = None
    """Default retry policy of every step that has none."""
    timeout: float | None = Field(default=None, gt=0)
    """Timeout of the whole run, in seconds."""
    step_timeout: float | None = Field(default=None, gt=0)
    """Default timeout of each step attempt."""
    on_error: ErrorPolicy = "stop"
    reviewer: str | None = Field(default=None, min_length=1)
    """Who reviews failures under ``human-review`` when a step names no ``reviewer``."""
    compensation_strategy: Literal["reverse-order"] = "reverse-order"
    output: Any = None
    """A template for the run's output; by default, every step's output by id."""
    context: Any = None
    """The workflow context (a node graph's workflow-level context): a template over
    ``input`` of the object it starts as. Every step reads it as ``context`` and writes it
    with its ``assign``. None: the workflow has no context."""
    progress_events: bool = False
    """Whether each run emits a ``WorkflowProgress.updated`` event as its steps end (off by
    default, to spare the event log; the run resource shows its progress either way)."""
    metrics: list[MetricDeclaration] = Field(default_factory=list)
    """The business metrics its runs may record (a step's ``metrics``, the ``metric``
    action); recording any other is a problem at validation."""
    pricing: dict[str, Any] | None = None
    """Its pricing model as written (``plait.definitions.pricing``; docs/costs.md): each run
    is priced when it ends. None: its runs are not priced."""
    concurrency: dict[str, Any] | None = None
    """At most ``limit`` runs per value of ``key`` execute at once: ``{key, limit, strategy}``
    as checked by ``plait.definitions.flow`` (docs/flow-control.md)."""
    priority: int = 0
    """Its runs' priority (-10 to 10): claims take higher priorities first."""
    singleton: dict[str, Any] | None = None
    """At most one live run per value of ``key``: ``{key, mode}`` (skip or cancel)."""
    rate_limit: dict[str, Any] | None = Field(default=None, alias="rateLimit")
    """Its start throttle, checked: ``{limit, period, burst, key}``, runs started per period
    (per ``key``, CEL over the input); see ``plait.definitions.step_limits``."""
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _has_steps(self, info: ValidationInfo) -> Definition:
        draft = isinstance(info.context, dict) and info.context.get("draft")
        if not self.steps and self.machine is None and not draft:
            raise ValueError("a workflow needs at least one step (or, as a state machine, states)")
        return self


for _cls in (ActionStep, ParallelStep, ConditionStep, ForeachStep, SleepStep, WaitStep, Definition):
    _cls.model_rebuild()
HumanTaskStep.model_rebuild()
WorkflowStep.model_rebuild()
for _machine_cls in (MachineTransition, MachineState, Machine):
    _machine_cls.model_rebuild()


def walk(steps: list[Step]) -> list[Step]:
    """Every step, nested ones included (children, branches, fallbacks), depth first."""
    found: list[Step] = []
    for step in steps:
        found.append(step)
        found.extend(walk(children(step)))
    return found


def children(step: Step) -> list[Step]:
    """The steps nested in ``step`` (not its compensation)."""
    nested: list[Step] = list(step.fallback)
    if isinstance(step, ParallelStep | ForeachStep):
        nested.extend(step.steps)
    elif isinstance(step, ConditionStep):
        nested.extend(step.then)
        nested.extend(step.else_)
    return nested


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the canonical model (``plait schema``)."""
    schema = Definition.model_json_schema(by_alias=True)
    for definition in schema.get("$defs", {}).values():
        field = definition.get("properties", {}).get("compensation")
        if field is not None and field.get("type") == "array":
            # One compensation step may be written without the list.
            definition["properties"]["compensation"] = {
                "anyOf": [field["items"], field],
                "title": field.get("title", "Compensation"),
            }
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "plait workflow definition (canonical form)"
    return schema
