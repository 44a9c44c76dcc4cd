"""The platform-entity dialect (brief 000): a ``Workflow`` record triggered by an event.

    {"name": "Customer Onboarding", "triggerEvent": "Deal.won",
     "steps": [{"action": "Customer.create", "mapping": {"name": "deal.name"}}],
     "errorHandling": "Fallback", "timeout": 30000}

Steps run in order, each after the one before. Each ``mapping`` value is an expression over the
run's names (``deal`` for a ``Deal.*`` trigger, ``step.0`` for the first step's output, ...);
a value whose names resolve to nothing known (``'round-robin'``) is a literal string, decided
here, once, and reported as a warning. The record stores ``steps`` and ``retryPolicy`` as
JSON-encoded strings; both spellings are accepted.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from plait.definitions.dialects import (
    Events,
    Normalised,
    PositiveMillis,
    RetrySource,
    Source,
    build,
    chain,
    decode_json,
    name,
    read,
    retry,
    seconds,
    stand_in,
    template_condition,
    trigger,
)
from plait.definitions.dialects.service import read_step
from plait.definitions.model import ActionStep, Step
from plait.definitions.validate import (
    RESERVED,
    Findings,
    compile_message,
    join,
    trigger_nouns,
    within,
)
from plait.expressions import ExpressionError, compile_mapping_value
from plait.secrets import SCOPE_NAME as SECRETS

ErrorHandling = Literal[
    "Stop", "Continue", "Fallback", "HumanReview", "stop", "continue", "fallback", "human-review"
]
"""``HumanReview`` (``human-review``): a person reviews each failed step (docs/definitions.md)."""

_POLICY = {"Stop": "stop", "Continue": "continue", "Fallback": "fallback",
           "HumanReview": "human-review"}  # fmt: skip


class EntityStep(Source):
    """``{action, mapping}``; ``id`` (or ``name``) names the step, else ``step-<n>``."""

    id: str | None = Field(default=None, min_length=1)
    name: str | None = Field(default=None, min_length=1)
    description: str | None = None
    action: str = Field(min_length=1)
    mapping: dict[str, Any] | None = None
    condition: str | None = None


class EntityWorkflow(Source):
    """A ``Workflow`` record. Bookkeeping fields of a stored record are accepted and ignored."""

    name: str | None = None
    description: str | None = None
    dialect: Literal["entity"] | None = None
    trigger_event: Events | None = Field(default=None, alias="triggerEvent")
    steps: list[Any]
    retry_policy: RetrySource | None = Field(default=None, alias="retryPolicy")
    error_handling: ErrorHandling | None = Field(default=None, alias="errorHandling")
    timeout: PositiveMillis | None = None
    record_id: Any = Field(default=None, alias="$id")
    record_type: Any = Field(default=None, alias="$type")
    organization: Any = None
    status: Any = None
    version: Any = None
    last_run_at: Any = Field(default=None, alias="lastRunAt")
    run_count: Any = Field(default=None, alias="runCount")
    success_count: Any = Field(default=None, alias="successCount")
    failure_count: Any = Field(default=None, alias="failureCount")


def normalise(document: dict[str, Any], findings: Findings) -> Normalised:
    """Read an entity-dialect document into the canonical model."""
    document = dict(document)
    decode_json(document, "retryPolicy", findings)
    source = read(EntityWorkflow, document, "$", findings)
    if source is None:
        return Normalised(None)
    events = trigger(source.trigger_event)
    known = set(RESERVED | trigger_nouns(events)) | {SECRETS}  # mappings are action inputs
    unreadable: set[str] = set()
    steps: list[Step] = []
    for index, raw in enumerate(source.steps):
        path = f"$.steps[{index}]"
        if _typed(raw):  # a step of another kind (human-task, ...): read as service steps are
            steps.append(read_step(raw, path, f"step-{index + 1}", frozenset(known), findings,
                                   unreadable))  # fmt: skip
        elif (item := read(EntityStep, raw, path, findings)) is None:
            steps.append(stand_in(raw, path, f"step-{index + 1}", unreadable))
            continue
        else:
            steps.append(_step(item, index, path, known, findings))
        known.add(steps[-1].id)
    chain(steps)
    definition = build(findings, {
        "name": name(source.name, "$.name", findings),
        "description": source.description,
        "dialect": "entity",
        "trigger": events,
        "steps": steps,
        "retry": retry(source.retry_policy),
        "timeout": seconds(source.timeout),
        "on_error": _POLICY.get(handling := source.error_handling or "stop", handling),
    })  # fmt: skip
    return Normalised(definition, {"retry": "$.retryPolicy"}, unreadable)


def _typed(raw: Any) -> bool:
    """A step that says its kind (``type``) and calls no action: its own keys decide it, so one
    document may mix ``{action, mapping}`` steps with, say, a ``type: human-task`` step."""
    return isinstance(raw, dict) and "type" in raw and "action" not in raw


def _step(
    item: EntityStep, index: int, path: str, known: set[str], findings: Findings
) -> ActionStep:
    mapping = None
    if item.mapping is not None:
        mapping = {
            key: _mapping_value(value, join(join(path, "mapping"), key), known, findings)
            for key, value in item.mapping.items()
        }
    return ActionStep(
        id=item.id or item.name or f"step-{index + 1}",
        name=item.name,
        action=item.action,
        input=mapping,
        condition=template_condition(item.condition),
        path=path,
        sources={"input": "mapping"},
    )


def _mapping_value(value: Any, where: str, known: set[str], findings: Findings) -> Any:
    """An expression becomes the template ``{{ expr }}``; a literal stays as written."""
    if not isinstance(value, str):
        return value
    try:
        template, literal = compile_mapping_value(value, known)
    except ExpressionError as exc:  # only a `{{ }}` template can fail; a bad expression is text
        findings.error(within(where, exc.path), compile_message(exc))
        return value
    if literal:
        findings.warn(
            where,
            f"mapping value {value!r} is not an expression over known names; "
            "it is used as the literal string",
        )
        return value
    if [(path, e.source) for path, e in template.expressions] == [("", value)]:
        return "{{ " + value + " }}"
    return value  # already a template: `"Hello {{deal.name}}"`
