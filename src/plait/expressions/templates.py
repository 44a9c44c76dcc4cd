"""Templates: JSON-like values whose strings may hold ``{{ expression }}``.

A string that is exactly one ``{{ expr }}`` (whitespace around it allowed) renders as the
expression's value with its type; a string with ``{{ }}`` among other text interpolates; every
other value is literal. Templates are compiled once, when a definition is saved.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from datetime import date, datetime
from typing import Any

import orjson

from plait.expressions.cel import (
    EvaluationError,
    Expression,
    ExpressionError,
    compile_expression,
    copy_json,
)
from plait.expressions.cost import SETTING, Budget, budget_in_force, current_limit

Render = Callable[[Mapping[str, Any]], Any]


class TemplateError(EvaluationError):
    """A template field failed to render.

    Attributes:
        path: the field, relative to the template (``variables.companyName``, ``items[2]``,
            ``""`` for the template itself).
        expression: the expression as written.
        reason: what went wrong.
    """

    def __init__(self, path: str, expression: str, reason: str) -> None:
        self.path = path
        super().__init__(expression, reason)

    def _message(self) -> str:
        field = f"field {self.path!r}: " if self.path else ""
        return field + super()._message()


class TemplateTooCostly(TemplateError):
    """The expressions of a template cost more than ``max_expression_cost`` together, whatever
    the data: none of them is evaluated.

    Attributes:
        value: the sum of their estimated costs with one item in each list, map and string.
        limit: the limit in force.
        setting: ``max_expression_cost``.
    """

    def __init__(self, count: int, value: int, limit: int) -> None:
        self.value, self.limit, self.setting = value, limit, SETTING
        self.count = count
        refusal = Budget(limit, TOGETHER).refusal(value)
        super().__init__("", "", str(refusal))

    def _message(self) -> str:
        return f"a template of {self.count} expressions is refused: {self.reason}"


TOGETHER = "the expressions of this template together"
"""What a render's budget is spent on (named in its error)."""


class Template:
    """A compiled template; ``render`` it against a scope.

    The expressions of one render share one budget of ``max_expression_cost``: their costs add
    up, each checked before it is evaluated (see ``cost.shared_budget``).

    Attributes:
        expressions: ``(field path, expression)`` for every expression, in document order.
        is_literal: True when there is no expression anywhere.
        least: the sum of their estimated costs with one item in each list, map and string.
    """

    __slots__ = ("_fixed", "_render", "_value", "expressions", "is_literal", "least")

    def __init__(
        self, expressions: list[tuple[str, Expression]], render: Render | None, value: Any
    ) -> None:
        self.expressions = expressions
        self.is_literal = render is None
        self.least = sum(expression.cost.least for _, expression in expressions)
        fixed = [expression.cost.fixed for _, expression in expressions]
        # One expression has the limit to itself; fixed costs add up to a fixed total.
        self._fixed = 0 if len(fixed) < 2 else self.least if None not in fixed else None
        self._render = render
        self._value = value

    def check_cost(self, limit: int | None = None) -> None:
        """Refuse the template if its expressions cost more than ``limit`` (by default the
        limit in force) together, whatever the data.

        Raises:
            TemplateTooCostly: even with one item in each list, map and string they read.
        """
        limit = current_limit() if limit is None else limit
        if self.least > limit:
            raise TemplateTooCostly(len(self.expressions), self.least, limit)

    def __repr__(self) -> str:
        return f"Template({self._value!r})"

    def render(self, scope: Mapping[str, Any]) -> Any:
        """The value with every expression evaluated against ``scope``.

        Raises:
            TemplateError: an expression failed; ``path`` names its field.
        """
        if self._render is None:
            return copy_json(self._value)
        if self._fixed is not None and self._fixed <= current_limit():
            return self._render(scope)  # fixed costs within the limit: nothing to count
        if budget_in_force.get() is not None:
            return self._render(scope)  # its expressions spend from the budget in force
        self.check_cost()
        token = budget_in_force.set(Budget(current_limit(), TOGETHER))
        try:
            return self._render(scope)
        finally:
            budget_in_force.reset(token)


def compile_template(value: Any) -> Template:
    """Compile ``value`` (recursively through dicts and lists) into a Template.

    Raises:
        ExpressionError: an expression does not compile; ``path`` names its field.
    """
    expressions: list[tuple[str, Expression]] = []
    render = _compile(value, "", expressions)
    return Template(expressions, render, value)


def literal_template(value: Any) -> Template:
    """A template that renders ``value`` as is (a copy of it)."""
    return Template([], None, value)


def compile_mapping_value(text: str, known: Collection[str]) -> tuple[Template, bool]:
    """Compile a value of a ``mapping``, where each value is an expression (``deal.name``).

    A text that does not compile, or reads a name outside ``known`` (``round-robin`` reads
    ``round`` and ``robin``), is the literal string: the returned flag is then True, and the
    caller should warn that it is treated as a literal. A text with ``{{ }}`` is a template.
    """
    if any(is_code for is_code, _ in _segments(text)):
        return compile_template(text), False
    try:
        expression = compile_expression(text)
    except ExpressionError:
        return literal_template(text), True
    if not expression.names <= frozenset(known):
        return literal_template(text), True
    return Template([("", expression)], _exact("", expression), text), False


def _compile(value: Any, path: str, found: list[tuple[str, Expression]]) -> Render | None:
    """A renderer for ``value``, or None when it is literal."""
    if isinstance(value, str):
        return _compile_string(value, path, found)
    if isinstance(value, dict):
        fields = [(k, _compile(v, _key_path(path, k), found), v) for k, v in value.items()]
        if all(render is None for _, render, _ in fields):
            return None
        parts = [(k, render or _constant(v)) for k, render, v in fields]
        return lambda scope: {k: render(scope) for k, render in parts}
    if isinstance(value, list):
        items = [(_compile(v, f"{path}[{i}]", found), v) for i, v in enumerate(value)]
        if all(render is None for render, _ in items):
            return None
        renders = [render or _constant(v) for render, v in items]
        return lambda scope: [render(scope) for render in renders]
    return None


def _compile_string(text: str, path: str, found: list[tuple[str, Expression]]) -> Render | None:
    segments = _segments(text)
    if not any(is_code for is_code, _ in segments):
        return None
    parts: list[str | Expression] = []
    for is_code, segment in segments:
        if not is_code:
            parts.append(segment)
            continue
        try:
            expression = compile_expression(segment.strip())
        except ExpressionError as exc:
            raise ExpressionError(exc.expression, exc.reason, exc.position, path) from None
        found.append((path, expression))
        parts.append(expression)
    expressions = [p for p in parts if isinstance(p, Expression)]
    if len(expressions) == 1 and all(isinstance(p, Expression) or not p.strip() for p in parts):
        return _exact(path, expressions[0])
    return _interpolate(path, parts)


def _exact(path: str, expression: Expression) -> Render:
    def render(scope: Mapping[str, Any]) -> Any:
        try:
            return expression.evaluate(scope)
        except EvaluationError as exc:
            raise TemplateError(path, exc.expression, exc.reason) from exc

    return render


def _interpolate(path: str, parts: list[str | Expression]) -> Render:
    def render(scope: Mapping[str, Any]) -> str:
        out: list[str] = []
        for part in parts:
            if isinstance(part, str):
                out.append(part)
                continue
            try:
                out.append(_text(part.evaluate(scope)))
            except EvaluationError as exc:
                raise TemplateError(path, exc.expression, exc.reason) from exc
        return "".join(out)

    return render


def _text(value: Any) -> str:
    """How a value reads inside text: strings as is, null as "", the rest as compact JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return orjson.dumps(value, default=str).decode()


def _segments(text: str) -> list[tuple[bool, str]]:
    """Split ``text`` into ``(is_expression, text)`` pieces.

    An expression runs from ``{{`` to the first ``}}`` outside string literals and braces, so
    ``{{ {"a": {"b": 1}} }}`` is one expression. An unclosed ``{{`` is literal text.
    """
    segments: list[tuple[bool, str]] = []
    literal_from = 0
    i = text.find("{{")
    while i >= 0:
        end = _expression_end(text, i + 2)
        if end is None:
            break
        if i > literal_from:
            segments.append((False, text[literal_from:i]))
        segments.append((True, text[i + 2 : end]))
        literal_from = end + 2
        i = text.find("{{", literal_from)
    if literal_from < len(text) or not segments:
        segments.append((False, text[literal_from:]))
    return segments


def _expression_end(text: str, i: int) -> int | None:
    """Offset of the ``}}`` closing an expression whose text starts at ``i``, or None."""
    depth = 0
    while i < len(text):
        ch = text[i]
        if ch in "'\"":
            i = _quoted_end(text, i)
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0 and text.startswith("}}", i):
                return i
            depth = max(depth - 1, 0)
        i += 1
    return None


def _quoted_end(text: str, i: int) -> int:
    quote = text[i]
    i += 1
    while i < len(text) and text[i] != quote:
        i += 2 if text[i] == "\\" else 1
    return i + 1


_PLAIN_KEY = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*")


def _key_path(path: str, key: Any) -> str:
    name = str(key)
    if _PLAIN_KEY.fullmatch(name):
        return f"{path}.{name}" if path else name
    return f"{path}[{orjson.dumps(name).decode()}]"


def _constant(value: Any) -> Render:
    if isinstance(value, dict | list):
        return lambda scope: copy_json(value)
    return lambda scope: value
