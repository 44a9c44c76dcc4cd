"""Business metrics a definition's steps record: a step's ``metrics`` (expressions over its
``output``), and the built-in ``metric`` action's values, recorded once the step succeeded
(each under a record of the step's own key, so a replay reads them back)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from plait.actions.builtin import metric as metric_action
from plait.definitions.metrics import explicit
from plait.errors import InvalidMetric
from plait.expressions import EvaluationError
from plait.interpreter.located import locator
from plait.runtime.business_metrics import record_metric

if TYPE_CHECKING:
    from plait.interpreter.frame import Frame
    from plait.interpreter.plan import Node
    from plait.interpreter.run import _Run


def records_metrics(run: _Run, node: Node) -> bool:
    """Whether ``node`` records business metrics when it succeeds."""
    return bool(node.metrics) or _is_metric_action(run, node)


def _is_metric_action(run: _Run, node: Node) -> bool:
    action = getattr(node.step, "action", None)
    return action is not None and run.actions.known(action) and (
        run.actions.get(action).fn is metric_action)  # fmt: skip


async def record_step_metrics(run: _Run, node: Node, frame: Frame, key: str, output: Any) -> None:
    """Record the metrics of step ``key`` that succeeded with ``output``. An expression that
    fails or a value that is not a number fails the run at the step's ``metrics``."""
    ctx = run.ctx
    try:
        if node.metrics:
            scope = frame.scope({"output": output, "result": output})
            for name, expression in node.metrics.items():
                value = expression.evaluate(scope)
                record_metric(ctx, name, value, {}, f"{key}.metric:{name}")
        if _is_metric_action(run, node):
            for name, value, labels in _measurements(ctx.workflow, output, ctx.metric_names):
                record_metric(ctx, name, value, labels, f"{key}.metric:{name}")
    except (EvaluationError, InvalidMetric) as exc:
        field = "metrics" if node.metrics else "input"
        await run.fail(f"{key}.metrics", exc, locator(node.step, field))


def _measurements(
    workflow: str, given: dict[str, Any], declared: frozenset[str]
) -> Iterator[tuple[str, Any, dict[str, Any]]]:
    """``(name, value, labels)`` of the ``metric`` action's input: the explicit ``{name,
    value, labels}``, or each key naming a declared metric, the other keys its labels."""
    if explicit(given):
        labels = given.get("labels") or {}
        if not isinstance(labels, dict):
            raise InvalidMetric(workflow, str(given["name"]), "labels must be an object")
        yield str(given["name"]), given["value"], labels
        return
    labels = {k: v for k, v in given.items() if k not in declared}
    for name, value in given.items():
        if name in declared:
            yield name, value, labels
