"""Turn a definition document into a registered workflow (the interpreter as its function)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plait.actions.base import Actions
from plait.definitions import flow
from plait.definitions.limits import check_model
from plait.definitions.load import load_definition
from plait.definitions.model import Definition
from plait.definitions.pricing import pricing_of
from plait.errors import InvalidArguments
from plait.interpreter.plan import Plan, compile_plan
from plait.interpreter.run import interpreter
from plait.runtime.limits import throttle_of
from plait.settings import Settings
from plait.workflow import MetricSpec, Workflow


def build_workflow(
    document: Definition | dict[str, Any] | str | Path,
    actions: Actions,
    clients: dict[str, Any],
    settings: Settings | None = None,
) -> tuple[Workflow, Plan]:
    """Load, validate and compile ``document``; return its workflow and plan.

    Raises ``InvalidDefinition`` listing every problem (``DefinitionLimitExceeded`` for a
    document over a limit of ``settings``); nothing is registered then.
    """
    if isinstance(document, Definition):
        definition = document
        if settings is not None:
            check_model(definition, settings)
    else:
        definition = load_definition(document, actions=actions.known, settings=settings)
    plan = compile_plan(definition)
    function = interpreter(plan, actions, clients)
    if definition.machine is not None:
        from plait.interpreter.machine import machine_interpreter

        function = machine_interpreter(plan, actions, clients)
    # The interpreter enforces a step graph's timeout itself, so that a timed-out run
    # compensates; a state machine's is the runtime's.
    timeout = definition.timeout if definition.machine is not None else None
    workflow = Workflow(
        definition.name,
        function,
        timeout,
        ordered_replay=False,
        validate_input=_input_check(plan),
        planned_steps=None if definition.machine else tuple(node.id for node in plan.nodes),
        progress_events=definition.progress_events,
        metrics=tuple(MetricSpec(m.name, m.description) for m in definition.metrics),
        pricing=pricing_of(definition),
        flow=flow.of(definition),
        rate_limit=throttle_of(definition.rate_limit, definition.name),
    )
    return workflow, plan


def _input_check(plan: Plan) -> Any:
    validator = plan.input_schema

    def check(args: tuple[Any, ...]) -> None:
        if validator is None:
            return
        value = args[0] if args else None
        problems = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        if problems:
            detail = "; ".join(
                "$" + "".join(f"[{p!r}]" for p in e.absolute_path) + f": {e.message}"
                for e in problems
            )
            raise InvalidArguments(plan.name, f"input does not match the input schema: {detail}")

    return check if validator is not None else None
