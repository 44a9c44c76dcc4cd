"""Business metrics in a definition: the top-level ``metrics`` declarations (brief 001,
``[{name, description}]``, every dialect), a step's ``metrics: {name: expression}``, and the
``metric`` action (``Metric.record``, brief 002).

Every dialect takes both keys: they are lifted out of the document before its dialect reads
it (a step's by its JSON path) and put back on the normalised steps, so each dialect's loader
need not know them. Recording a metric the definition does not declare is a problem at its
path (an error; a warning in a draft, whose declarations may come later).
"""

from __future__ import annotations

from typing import Any

from plait.definitions.model import (
    ActionStep,
    Definition,
    MetricDeclaration,
    Step,
    walk,
)
from plait.definitions.validate import Findings, join
from plait.expressions import ExpressionError, compile_expression
from plait.runtime.business_metrics import METRIC_ACTIONS, METRIC_NAME

EXPLICIT = ("name", "value", "labels")
"""The keys of the explicit input of the ``metric`` action: ``{name, value, labels}``."""
_NESTED = ("steps", "nodes", "then", "else", "fallback", "compensation", "branches")
"""Keys under which a document nests steps (in any dialect)."""


def lift(
    document: dict[str, Any], *, steps: bool = True
) -> tuple[dict[str, Any], Any, dict[str, Any]]:
    """``document`` without its top-level ``metrics`` and (with ``steps``) its steps'
    ``metrics`` (copied where it changes: the caller's document is left as it is), the
    declarations, and each step's metrics by the step's JSON path. A canonical document's
    steps keep theirs: the canonical model reads them itself."""
    by_path: dict[str, Any] = {}
    lifted = _lifted(document, "$", by_path) if steps else dict(document)
    return lifted, lifted.pop("metrics", None), by_path


def _lifted(node: dict[str, Any], path: str, steps: dict[str, Any]) -> dict[str, Any]:
    copied = dict(node)
    for key in _NESTED:
        items = copied.get(key)
        if not isinstance(items, list):
            continue
        found: list[Any] = []
        for index, item in enumerate(items):
            if isinstance(item, dict):
                where = f"{join(path, key)}[{index}]"
                item = _lifted(item, where, steps)
                if "metrics" in item:
                    steps[where] = item.pop("metrics")
            found.append(item)
        copied[key] = found
    return copied


def apply(definition: Definition, declared: Any, steps: dict[str, Any], findings: Findings) -> None:
    """Put the lifted ``metrics`` back: the declarations on the definition, each step's on
    the step of that path (a problem where a key is not of the right shape)."""
    if declared is not None:
        definition.metrics = _declarations(declared, findings)
    by_path = {step.path: step for step in _every_step(definition.steps)}
    for path, raw in steps.items():
        where = join(path, "metrics")
        step = by_path.get(path)
        if step is None:
            findings.error(where, "metrics belong on a step")
        elif not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
            findings.error(where, "expected an object of metric names to expressions, such as "
                           "{dealValue: 'output.amount'}")  # fmt: skip
        else:
            step.metrics = {str(name): value for name, value in raw.items()}


def _declarations(raw: Any, findings: Findings) -> list[MetricDeclaration]:
    if not isinstance(raw, list):
        findings.error("$.metrics", "expected a list of {name, description}")
        return []
    found: list[MetricDeclaration] = []
    for index, item in enumerate(raw):
        where = f"$.metrics[{index}]"
        if isinstance(item, str):
            item = {"name": item}
        name, description = (item.get("name"), item.get("description")) if isinstance(
            item, dict) else (None, None)  # fmt: skip
        if not isinstance(name, str) or not name:
            findings.error(where, "a metric is a name or {name, description}")
        elif not METRIC_NAME.match(name):
            findings.error(join(where, "name") if isinstance(item, dict) else where,
                           f"metric name {name!r} must be a letter or _ followed by letters, "
                           "digits, _ . : or -")  # fmt: skip
        elif description is not None and not isinstance(description, str):
            findings.error(join(where, "description"), "expected text")
        elif any(d.name == name for d in found):
            findings.error(join(where, "name"), f"metric {name!r} is declared twice")
        else:
            found.append(MetricDeclaration(name=name, description=description))
    return found


def check(definition: Definition, findings: Findings) -> None:
    """Every metric a step records is declared, and every expression compiles."""
    names = {d.name for d in definition.metrics}
    report = findings.warn if findings.draft else findings.error
    for step in _every_step(definition.steps):
        for name, source in step.metrics.items():
            where = join(join(step.path, "metrics"), name)
            if name not in names:
                report(where, _undeclared(name, names, findings))
            try:
                compile_expression(expression_of(source))
            except ExpressionError as exc:
                findings.error(where, str(exc))
        if isinstance(step, ActionStep) and step.action in METRIC_ACTIONS:
            _check_action(step, names, report, findings)


def _check_action(step: ActionStep, names: set[str], report: Any, findings: Findings) -> None:
    key = step.sources.get("input", "input")
    where = join(step.path, key)
    given = step.input
    if not isinstance(given, dict):
        findings.error(where, "the metric action takes {name, value, labels} or an object "
                       "whose keys name declared metrics")  # fmt: skip
        return
    if explicit(given):
        name = given["name"]
        if isinstance(name, str) and "{{" not in name and name not in names:
            report(join(where, "name"), _undeclared(name, names, findings))
    elif not names.intersection(given):
        report(where, "none of its keys names a declared metric (declared: "
               f"{', '.join(sorted(names)) or 'none'})")  # fmt: skip


def explicit(given: dict[str, Any]) -> bool:
    """Whether a ``metric`` action's input is the explicit ``{name, value, labels}``."""
    return "name" in given and "value" in given and set(given) <= set(EXPLICIT)


def _undeclared(name: str, names: set[str], findings: Findings) -> str:
    known = ", ".join(sorted(names)) or "none"
    return (f"metric {name!r} is not declared in the workflow's metrics (declared: "
            f"{known}){findings.hint(name, names)}")  # fmt: skip


def expression_of(source: str) -> str:
    """The expression of a step's metric: the inside of ``{{ ... }}`` when the whole string is
    one template, else the text itself."""
    text = source.strip()
    if text.startswith("{{") and text.endswith("}}") and text.count("{{") == 1:
        return text[2:-2].strip()
    return source


def _every_step(steps: list[Step]) -> list[Step]:
    found: list[Step] = []
    for step in walk(steps):
        found.append(step)
        found.extend(_every_step(list(step.compensation)))
    return found
