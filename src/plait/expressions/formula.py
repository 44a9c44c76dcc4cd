"""Cost formulas: integer arithmetic over measured sizes, folded while they are built.

A formula is an ``int`` or a tuple ``(op, *operands)``: ``("+", ...)``, ``("*", a, b)``,
``("max", ...)``, ``("div", a, k)`` (``a // k``), ``("tri", n)`` (``n * (n + 1) / 2``) or
``("m", key)``, a size measured in the scope at run time. Every operation is monotonic, so a
formula evaluated with sizes that are upper bounds is an upper bound; ``smallest`` keeps only
constants for the same reason.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

Formula = int | tuple[Any, ...]


def add(*terms: Formula) -> Formula:
    constant = 0
    rest: list[Formula] = []
    for term in terms:
        if isinstance(term, int):
            constant += term
        elif term[0] == "+":
            constant += term[1]
            rest.extend(term[2:])
        else:
            rest.append(term)
    return ("+", constant, *rest) if rest else constant


def mul(a: Formula, b: Formula) -> Formula:
    if isinstance(a, int) and isinstance(b, int):
        return a * b
    if a == 0 or b == 0:
        return 0
    if a == 1 or b == 1:
        return b if a == 1 else a
    return ("*", a, b)


def largest(*terms: Formula) -> Formula:
    constants = [t for t in terms if isinstance(t, int)]
    rest: list[Formula] = list(dict.fromkeys(t for t in terms if not isinstance(t, int)))
    if not rest:
        return max(constants, default=0)
    if constants:
        rest.append(max(constants))
    return rest[0] if len(rest) == 1 else ("max", *rest)


def smallest(*terms: Formula) -> Formula:
    """An upper bound of the smallest term: the smallest constant, else the first term."""
    constants = [t for t in terms if isinstance(t, int)]
    return min(constants) if constants else terms[0]


def divided(a: Formula, by: int) -> Formula:
    """``a // by``."""
    return a // by if isinstance(a, int) else ("div", a, by)


def triangle(n: Formula) -> Formula:
    return n * (n + 1) // 2 if isinstance(n, int) else ("tri", n)


def variables(formula: Formula) -> list[Hashable]:
    """The measure keys ``formula`` reads, in order of first appearance."""
    found: dict[Hashable, None] = {}
    stack = [formula]
    while stack:
        term = stack.pop()
        if isinstance(term, int):
            continue
        if term[0] == "m":
            found.setdefault(term[1])
        else:
            stack.extend(reversed(term[1:]))
    return list(found)


def compiled(formula: Formula, keys: list[Hashable]) -> Callable[[list[int]], int]:
    """A function of the measured values (in the order of ``keys``) that evaluates ``formula``.

    The formula becomes the text of one Python lambda (made only of integers, ``+ * //``,
    ``max`` and indexes into the sizes), so that evaluating it costs a fraction of a
    microsecond however it nests.
    """
    text = _python(formula, keys)
    function: Callable[[list[int]], int] = eval(f"lambda s: {text}", {"max": max})
    return function


def _python(formula: Formula, keys: list[Hashable]) -> str:
    if isinstance(formula, int):
        return str(formula)
    op, operands = formula[0], formula[1:]
    if op == "m":
        return f"s[{keys.index(operands[0])}]"
    parts = [_python(term, keys) for term in operands]
    if op == "+":
        return "(" + " + ".join(parts) + ")"
    if op == "*":
        return f"({parts[0]} * {parts[1]})"
    if op == "max":
        return "max(" + ", ".join(parts) + ")"
    if op == "div":
        return f"({parts[0]} // {parts[1]})"
    if op == "tri":
        return f"({parts[0]} * ({parts[0]} + 1) // 2)"
    raise ValueError(f"unknown operation {op!r} in a cost formula")
