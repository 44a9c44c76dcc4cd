"""Compile a definition once into a Plan: expressions compiled, policies resolved, schemas ready.

Policies resolve step, then workflow, then defaults: a step's retry policy is its own, else the
definition's, else a single attempt; its timeout is its own, else the definition's step timeout.
A group (parallel, condition, foreach) has only its own timeout, over the whole group, and no
retry policy (validation refuses one).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from plait.actions.code.pool import CodeRefused
from plait.definitions.metrics import expression_of
from plait.definitions.model import (
    ActionStep,
    ConditionStep,
    Definition,
    ForeachStep,
    ParallelStep,
    SleepStep,
    Step,
    WorkflowStep,
)
from plait.definitions.validate import template_part, trigger_nouns
from plait.errors import SchemaViolation
from plait.expressions import (
    EvaluationError,
    Expression,
    Template,
    compile_expression,
    compile_template,
)
from plait.retry import NO_RETRY, RetryPolicy

if TYPE_CHECKING:
    from jsonschema.protocols import Validator


GROUPS = ("parallel", "condition", "foreach")
"""Kinds whose ``timeout`` bounds the whole group rather than one attempt."""


@dataclass
class Node:
    """One compiled step."""

    step: Step
    condition: Expression | None = None
    input: Template | None = None
    code: str | None = None
    """The literal Python source of a ``code`` action."""
    test: Expression | None = None
    items: Expression | None = None
    seconds: Expression | float | None = None
    retry: RetryPolicy = NO_RETRY
    timeout: float | None = None
    input_schema: Validator | None = None
    output_schema: Validator | None = None
    context: Template | None = None
    """The step's own context (a node's node-level context)."""
    assign: Template | None = None
    """What the step writes to the workflow context when it succeeds."""
    metrics: dict[str, Expression] = field(default_factory=dict)
    """The business metrics recorded when the step succeeds (over its ``output``)."""
    children: list[Node] = field(default_factory=list)
    then: list[Node] = field(default_factory=list)
    else_: list[Node] = field(default_factory=list)
    fallback: list[Node] = field(default_factory=list)
    compensation: list[Node] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.step.id


@dataclass
class Plan:
    """A definition ready to interpret."""

    definition: Definition
    nodes: list[Node]
    output: Template | None
    input_schema: Validator | None
    output_schema: Validator | None
    names: frozenset[str] = frozenset()
    """Every top-level name the plan's expressions read."""
    nouns: frozenset[str] = frozenset()
    """Names of the trigger's entity (``deal`` for ``Deal.won``)."""
    context: Template | None = None
    """The workflow context as a run starts (None: the workflow has none)."""

    @property
    def name(self) -> str:
        return self.definition.name

    def walk(self) -> list[Node]:
        """Every node in definition order, nested ones after their parent."""
        found: list[Node] = []

        def visit(nodes: list[Node]) -> None:
            for node in nodes:
                found.append(node)
                visit(node.children + node.then + node.else_ + node.fallback)

        visit(self.nodes)
        return found


def compile_plan(definition: Definition) -> Plan:
    """Compile every expression and template of ``definition``; raises ``ExpressionError``."""
    output = None if definition.output is None else compile_template(definition.output)
    plan = Plan(
        definition,
        [_node(s, definition) for s in definition.steps],
        output,
        _validator(definition.input_schema),
        _validator(definition.output_schema),
        nouns=frozenset(trigger_nouns(definition.trigger)),
        context=None if definition.context is None else compile_template(definition.context),
    )
    plan.names = frozenset(_names(plan))
    return plan


def _names(plan: Plan) -> set[str]:
    names: set[str] = set()
    templates = [plan.output, plan.context]
    templates += [t for n in plan.walk() for t in (n.input, n.context, n.assign)]
    for template in templates:
        for _, expression in template.expressions if template is not None else ():
            names |= expression.names
    for node in plan.walk():
        found = (node.condition, node.test, node.items, node.seconds, *node.metrics.values())
        names.update(*(e.names for e in found if isinstance(e, Expression)))
    return names


def _node(step: Step, definition: Definition) -> Node:
    own_timeout_only = step.kind in ("wait", *GROUPS)
    node = Node(
        step,
        condition=None if step.condition is None else compile_expression(step.condition),
        retry=_retry(step, definition),
        timeout=step.timeout if own_timeout_only else step.timeout or definition.step_timeout,
        fallback=[_node(s, definition) for s in step.fallback],
        compensation=[_node(s, definition) for s in step.compensation],
        metrics={n: compile_expression(expression_of(e)) for n, e in step.metrics.items()},
    )
    if isinstance(step, ActionStep):
        node.input = compile_template(template_part(step))
        if step.action == "code" and isinstance(step.input, dict):
            node.code = step.input.get("code")
        node.input_schema = _validator(step.input_schema)
        node.output_schema = _validator(step.output_schema)
        node.context = None if step.context is None else compile_template(step.context)
        node.assign = None if step.assign is None else compile_template(step.assign)
    elif isinstance(step, ParallelStep):
        node.children = [_node(s, definition) for s in step.steps]
    elif isinstance(step, ConditionStep):
        node.test = compile_expression(step.test)
        node.then = [_node(s, definition) for s in step.then]
        node.else_ = [_node(s, definition) for s in step.else_]
    elif isinstance(step, ForeachStep):
        node.items = compile_expression(step.items)
        node.children = [_node(s, definition) for s in step.steps]
    elif isinstance(step, SleepStep):
        raw = step.seconds
        node.seconds = compile_expression(raw) if isinstance(raw, str) else raw
    elif isinstance(step, WorkflowStep):
        node.input = compile_template(step.input)
    return node


def _retry(step: Step, definition: Definition) -> RetryPolicy:
    spec = step.retry or definition.retry
    policy = NO_RETRY if spec is None else spec.policy()
    # An input that does not render or validate would fail the same way on every attempt.
    # Nor can code the sandbox refuses (an import, a private attribute, a syntax error) pass.
    never = (*policy.non_retryable, EvaluationError, SchemaViolation, CodeRefused)
    return replace(policy, non_retryable=never)


def _validator(schema: dict[str, Any] | None) -> Validator | None:
    if schema is None:
        return None
    from jsonschema import Draft202012Validator

    validator: Validator = Draft202012Validator(schema)
    return validator
