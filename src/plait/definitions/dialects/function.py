"""The function-steps dialect (brief 001): steps that call named functions with templated input.

    {"name": "customerOnboardingWorkflow",
     "input": {"type": "object", ...}, "output": {"type": "object", ...},
     "steps": [{"id": "accountSetup", "function": "setupCustomerAccount",
                "input": {"customerId": "{{input.customerId}}"},
                "condition": "{{input.plan === \\"enterprise\\"}}"}],
     "errorHandling": {"retryStrategy": {"maxAttempts": 3, "backoff": {"initialDelay": 1000}},
                       "fallbackSteps": {"accountSetup": "notifyOps"}},
     "metrics": [{"name": "timeToValue"}]}

Steps run in order, each after the one before. ``input``/``output`` at the top are the JSON
Schemas of the run's input and output (the brief writes them with zod). ``outputMapping`` forms
the run's output from the steps' results (``{"status": "{{createSuccessPlan.status}}"}``);
without it the output is every step's output by id. A fallback runs in place
of its step when the step fails after its retries; it gets the step's input unless it declares
its own.
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
    name,
    read,
    retry,
    seconds,
    show,
    stand_in,
    template_condition,
    trigger,
)
from plait.definitions.model import ActionStep
from plait.definitions.validate import Findings, join

_FALLBACKS = "$.errorHandling.fallbackSteps"


class FunctionStep(Source):
    """``{id, function, input, condition}``."""

    id: str | None = Field(default=None, min_length=1)
    name: str | None = None
    description: str | None = None
    function: str = Field(min_length=1)
    input: Any = None
    condition: str | None = None
    timeout: PositiveMillis | None = None


class FallbackStep(Source):
    """The object form of a fallback: ``{function, input}``."""

    function: str = Field(min_length=1)
    input: Any = None


class FunctionErrorHandling(Source):
    retry_strategy: RetrySource | None = Field(default=None, alias="retryStrategy")
    fallback_steps: dict[str, Any] | None = Field(default=None, alias="fallbackSteps")


class FunctionWorkflow(Source):
    name: str | None = None
    description: str | None = None
    dialect: Literal["function"] | None = None
    trigger_event: Events | None = Field(default=None, alias="triggerEvent")
    input: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    input_schema: dict[str, Any] | None = Field(default=None, alias="inputSchema")
    output_schema: dict[str, Any] | None = Field(default=None, alias="outputSchema")
    output_mapping: Any = Field(default=None, alias="outputMapping")
    """A template of the run's output over the input and the steps' results."""
    steps: list[Any]
    error_handling: FunctionErrorHandling | None = Field(default=None, alias="errorHandling")
    timeout: PositiveMillis | None = None


def normalise(document: dict[str, Any], findings: Findings) -> Normalised:
    """Read a function-dialect document into the canonical model."""
    source = read(FunctionWorkflow, document, "$", findings)
    if source is None:
        return Normalised(None)
    unreadable: set[str] = set()
    steps: list[ActionStep] = []
    for index, raw in enumerate(source.steps):
        path = f"$.steps[{index}]"
        item = read(FunctionStep, raw, path, findings)
        if item is None:
            steps.append(stand_in(raw, path, f"step-{index + 1}", unreadable))
        else:
            steps.append(_step(item, index, path))
    chain(steps)
    handling = source.error_handling or FunctionErrorHandling()
    _fallbacks(handling.fallback_steps or {}, steps, findings)
    sources: dict[str, str] = {"retry": "$.errorHandling.retryStrategy",
                               "output": "$.outputMapping"}  # fmt: skip
    input_schema = _schema(source.input, source.input_schema, "input", sources, findings)
    output_schema = _schema(source.output, source.output_schema, "output", sources, findings)
    definition = build(findings, {
        "name": name(source.name, "$.name", findings),
        "description": source.description,
        "dialect": "function",
        "trigger": trigger(source.trigger_event),
        "input_schema": input_schema,
        "output_schema": output_schema,
        "output": source.output_mapping,
        "steps": steps,
        "retry": retry(handling.retry_strategy),
        "timeout": seconds(source.timeout),
    })  # fmt: skip
    return Normalised(definition, sources, unreadable)


def _step(item: FunctionStep, index: int, path: str) -> ActionStep:
    return ActionStep(
        id=item.id or f"step-{index + 1}",
        name=item.name,
        action=item.function,
        input=item.input,
        condition=template_condition(item.condition),
        timeout=seconds(item.timeout),
        path=path,
        sources={"action": "function"},
    )


def _fallbacks(fallbacks: dict[str, Any], steps: list[ActionStep], findings: Findings) -> None:
    """Attach ``fallbackSteps`` entries to their steps (whose error policy becomes fallback)."""
    by_id = {step.id: step for step in steps}
    for step_id, value in fallbacks.items():
        where = join(_FALLBACKS, step_id)
        step = by_id.get(step_id)
        if step is None:
            findings.error(where, f"fallback for unknown step {step_id!r}")
            continue
        fallback = _fallback(value, step, where, findings)
        if fallback is not None:
            step.fallback = [fallback]
            step.on_error = "fallback"


def _fallback(value: Any, step: ActionStep, where: str, findings: Findings) -> ActionStep | None:
    if isinstance(value, str) and value:
        action, input_, sources = value, step.input, {"action": ""}
    elif isinstance(value, dict):
        item = read(FallbackStep, value, where, findings)
        if item is None:
            return None
        action, sources = item.function, {"action": "function"}
        input_ = item.input if "input" in value else step.input
    else:
        findings.error(where, f"expected a function name or {{function, input}}, got {show(value)}")
        return None
    return ActionStep(
        id=f"{step.id}.fallback", action=action, input=input_, path=where, sources=sources
    )


def _schema(
    short: dict[str, Any] | None,
    long: dict[str, Any] | None,
    key: str,
    sources: dict[str, str],
    findings: Findings,
) -> dict[str, Any] | None:
    """The run's ``input``/``output`` JSON Schema, from ``input`` or ``inputSchema``."""
    long_key = f"{key}Schema"
    if short is not None and long is not None:
        findings.error(f"$.{long_key}", f"give the {key} schema once: {key!r} or {long_key!r}")
    sources[f"{key}_schema"] = f"$.{key}" if short is not None else f"$.{long_key}"
    return short if short is not None else long
