"""The cost of each function an expression can call, and a bound of what it returns.

Functions of the CEL runtime (``size``, ``contains``, ``matches``...) run in Rust; those of the
extended library (``split``, ``join``, ``replace``...) are Python functions, whose arguments and
result are converted on the way in and out (``CALL_VALUE`` units per value). A receiver call
``s.f(a)`` is ``f(s, a)``: ``args[0]`` is the receiver.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from plait.expressions.formula import Formula, add, divided, largest, mul, triangle

MACROS = frozenset({"all", "exists", "exists_one", "existsOne", "map", "filter"})
"""Calls that are comprehensions when their first argument is a variable name."""

CHARS_PER_UNIT = 16
"""Characters of a string counted as one unit: copying text is cheap, but it bounds memory."""
CALL_VALUE = 40
"""Units per value converted between CEL and Python for a function of the extended library
(a string takes about 3 us each way)."""
REGEX_UNIT = 50
"""Units per unit of ``regex_size``: ``matches`` compiles its pattern on every call, which
takes up to ~0.3 s for a pattern that reaches the regex engine's size limit (``\\w{1000}``)."""
REGEX_CLASS = 40
"""``regex_size`` of a Unicode class (``\\w``, ``\\d``, ``\\p{L}``...): hundreds of ranges."""


class Bounds(Protocol):
    """What ``call_cost`` needs of the bound of an argument (``cost.Bound``)."""

    @property
    def size(self) -> Formula: ...

    @property
    def weight(self) -> Formula: ...


def string_weight(size: Formula) -> Formula:
    """The weight of a string of ``size`` characters."""
    return add(1, divided(size, CHARS_PER_UNIT))


def same(args: Sequence[Bounds]) -> tuple[Formula, Formula]:
    """A result no larger than the first argument (``trim``, ``reverse``, ``sort``...)."""
    return args[0].size, args[0].weight


def scalar(args: Sequence[Bounds]) -> tuple[Formula, Formula]:
    return 1, 1


def replaced(args: Sequence[Bounds]) -> tuple[Formula, Formula]:
    """``replace(s, old, new)``: each character of ``s``, and the gaps around them, may become
    ``new`` (when ``old`` is empty)."""
    s, new = args[0], args[2] if len(args) > 2 else args[0]
    size = add(s.size, mul(add(s.size, 1), new.size))
    return size, string_weight(size)


def split(args: Sequence[Bounds]) -> tuple[Formula, Formula]:
    """``split(s, sep)``: at most one piece per character, and at most ``s`` in all."""
    pieces = add(args[0].size, 1)
    return pieces, add(1, pieces, args[0].weight)


def joined(args: Sequence[Bounds]) -> tuple[Formula, Formula]:
    """``join(list, sep)``: the items' text (``CHARS_PER_UNIT`` per unit of weight at most) and
    a separator after each."""
    items = args[0]
    separator: Formula = args[1].size if len(args) > 1 else 0
    size = add(mul(CHARS_PER_UNIT, items.weight), mul(items.size, separator))
    return size, string_weight(size)


def flattened(args: Sequence[Bounds]) -> tuple[Formula, Formula]:
    return args[0].weight, args[0].weight


def converted(args: Sequence[Bounds]) -> tuple[Formula, Formula]:
    """``string(x)`` and the like: a number becomes at most a few dozen characters."""
    size = largest(args[0].size, 32) if args else 32
    return size, string_weight(size)


# Each function gives the size and weight of its result from the bounds of its arguments.
_RUNTIME: dict[str, Callable[[Sequence[Bounds]], tuple[Formula, Formula]]] = {
    "size": scalar,
    "has": scalar,
    "int": scalar,
    "uint": scalar,
    "double": scalar,
    "dyn": same,
    "type": scalar,
    "timestamp": scalar,
    "duration": scalar,
    "string": converted,
    "bytes": same,
    "contains": scalar,
    "startsWith": scalar,
    "endsWith": scalar,
    "matches": scalar,
}

_LIBRARY: dict[str, Callable[[Sequence[Bounds]], tuple[Formula, Formula]]] = {
    "bool": scalar,
    "min": scalar,
    "max": scalar,
    "sum": scalar,
    "charAt": scalar,
    "indexOf": scalar,
    "lastIndexOf": scalar,
    "substring": same,
    "replace": replaced,
    "split": split,
    "join": joined,
    "lowerAscii": same,
    "upperAscii": same,
    "trim": same,
    "reverse": same,
    "distinct": same,
    "flatten": flattened,
    "slice": same,
    "sort": same,
    "truthy": scalar,
}


def call_cost(name: str, args: Sequence[Bounds]) -> tuple[Formula, tuple[Formula, Formula]]:
    """The work of calling ``name`` with arguments bounded by ``args`` (its own nodes apart),
    and the size and weight of its result."""
    read = add(*(a.weight for a in args))
    if name in _LIBRARY or name not in _RUNTIME:
        result = _LIBRARY.get(name, _unknown)(args) if args else (1, 1)
        work = add(mul(CALL_VALUE, add(read, result[1])), _extra(name, args))
        return work, result
    result = _RUNTIME[name](args) if args else (1, 1)
    return (read if name not in ("size", "has") else 0), result


def _extra(name: str, args: Sequence[Bounds]) -> Formula:
    """Work of a library function beyond converting its values."""
    if not args:
        return 0
    if name in ("lowerAscii", "upperAscii"):
        return mul(2, args[0].size)  # a Python loop over the characters
    if name == "distinct":
        return triangle(args[0].size)  # each item is compared with the ones kept so far
    if name == "sort":
        return mul(20, args[0].size)
    return 0


def _unknown(args: Sequence[Bounds]) -> tuple[Formula, Formula]:
    return add(*(a.size for a in args)), add(*(a.weight for a in args))


def regex_size(pattern: str) -> int:
    """An estimate of the size of the automaton compiled from ``pattern``: its atoms, a Unicode
    class counting ``REGEX_CLASS``, multiplied by the bounds of counted repetitions (``{2,5}``)
    around them, nested ones multiplying each other."""
    groups: list[list[int]] = [[0, 0]]  # per open group: its size so far, its last atom's
    i = 0
    while i < len(pattern):
        atom, i = _regex_atom(pattern, i, groups)
        if atom is not None:
            groups[-1][0] += atom
            groups[-1][1] = atom
    return sum(group[0] for group in groups)


def _regex_atom(pattern: str, i: int, groups: list[list[int]]) -> tuple[int | None, int]:
    """The size of the atom at ``i`` (None for an operator, applied here) and where it ends."""
    char = pattern[i]
    if char == "\\":
        escaped = pattern[i + 1 : i + 2]
        named = escaped in ("p", "P") and pattern[i + 2 : i + 3] == "{"
        end = pattern.find("}", i) + 1 if named else i + 2
        return (REGEX_CLASS if escaped in "wWdDsSpPbB" and escaped else 1), max(end, i + 2)
    if char == "[":
        end = pattern.find("]", i + 2)
        end = len(pattern) if end < 0 else end + 1
        return (end - i) + REGEX_CLASS * pattern.count("\\", i, end), end
    if char == "(":
        groups.append([0, 0])
        return None, i + 1
    if char == ")" and len(groups) > 1:
        return groups.pop()[0], i + 1
    if char == "{":
        end = pattern.find("}", i)
        counts = pattern[i + 1 : end].split(",") if end > 0 else []
        if end > 0 and all(c.strip().isdigit() or not c.strip() for c in counts) and counts:
            most = max(int(c) for c in counts if c.strip()) if any(counts) else 1
            group = groups[-1]
            group[0] += group[1] * max(most - 1, 0)
            group[1] *= max(most, 1)
            return None, end + 1
    return 1, i + 1
