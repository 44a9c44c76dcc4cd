"""How much work evaluating an expression can take, bounded before it runs.

The CEL runtime has no budget of its own, holds the GIL while it evaluates and cannot be
interrupted, so one expensive expression would stall every request of the process. The bound is
therefore decided before ``execute``: when an expression is compiled, its cost is estimated as a
small formula over the sizes of the values it reads (the list at ``input.items``, the string at
``event.data.name``); the formula is checked with one item per list when a definition is saved,
and with the real sizes, measured in the scope, before each evaluation that depends on them.

The estimate is an upper bound in **cost units**; one unit is about the time CEL takes to
evaluate one node (an operator, a name, a literal) or to copy one value, some 50-100 ns. The
weights were measured with ``bench/expression_cost.py`` (2 cores, Python 3.11,
common-expression-language 0.10), whose cases stress each term:

- a comprehension body of 11 nodes over 10,000 items: 14 ms quiet (~95 ns per node, ~350 ns
  per iteration besides its body: ``ITERATION``);
- ``map`` and ``filter`` rebuild their result on every iteration and copy it deeply: over 1,000
  items of 40-item lists, 2.97 s for 20.5 M copied values (145 ns each: ``COPY`` is 2 units);
  over 1,000 maps of 10 fields, 1.85 s (a map entry weighs ``MAP_ENTRY`` more for hashing);
- handing values to CEL: a string ~3 us, a float 1.4 us, an int 0.1 us, a map entry ~7 us
  (``PASS_*``); ``==`` on two lists ~1 us per item (``COMPARE``);
- ``matches`` compiles its pattern on every call: up to ~0.3 s for one that reaches the regex
  engine's size limit (``\\w{1000}``), hence ``regex_size``; then scans its text, in up to
  2.8 ns per character per unit of ``regex_size`` on the engine's slow path (a Unicode ``\\b``
  over non-ASCII text: ``(\\b.){100}x`` over 1 M characters took 13 s), hence ``REGEX_SCAN``;
- list and map literals copy what they hold, deeply (~80 ns per int, ~75 ns per unit of a map's
  weight), and a result built by CEL is converted back to Python (~80 ns per int, ~350 ns per
  string, ~1 us per map entry: ``RESULT``).

Expressions evaluated together share the limit through a ``Budget``: the expressions of one
template's render (``shared_budget``, used by ``Template.render``) and those of one event's
dispatch (added up by the router before any is evaluated).

On that machine, busy with other work (load 5 on 2 cores), every case ran at 25-125 ns per
estimated unit (the deep copies of nested ``map`` being the dearest), so the default limit of
1,000,000 units is at most ~100 ms of evaluation, about half that on an idle machine. The
4-deep ``map`` over 40-item literals of the original report (30-40 s, 400 MB) estimates at
about 460 M units. Memory is bounded by the same estimate: a value of weight w takes at least
w units to build, and each unit of weight is a few dozen bytes (the CEL value, then the Python
object), so an expression within 1,000,000 units builds at most some 100 MB.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, cast

from plait.errors import LimitExceeded
from plait.expressions.calls import (
    CHARS_PER_UNIT,
    MACROS,
    REGEX_UNIT,
    call_cost,
    regex_size,
    string_weight,
)
from plait.expressions.formula import (
    Formula,
    add,
    compiled,
    divided,
    largest,
    mul,
    smallest,
    triangle,
    variables,
)
from plait.expressions.syntax import (
    Binary,
    Call,
    Choice,
    Index,
    ListOf,
    Literal,
    MapOf,
    Member,
    Name,
    Node,
    Unary,
)
from plait.settings import Settings

SETTING = "max_expression_cost"
"""The ``Settings`` field that holds the limit."""
DEFAULT_LIMIT: int = Settings.max_expression_cost

ITERATION = 4
"""Units of one comprehension iteration besides its body."""
COPY = 2
"""Units per value that ``map`` and ``filter`` copy when they rebuild their result."""
MAP_ENTRY = 3
"""Weight of one map entry besides its key and value (hashing it when a map is copied)."""
REGEX_SCAN = 16
"""Products of a text's length by its pattern's ``regex_size`` per unit: the regex engine's
slow path (a Unicode ``\\b`` over non-ASCII text) took up to 2.8 ns per product."""
REGEX_LARGEST = 60_000
"""``regex_size`` of a pattern that reaches the regex engine's size limit (~0.3 s to refuse)."""
RESULT = 4
"""Units per value of the result converted back to Python (an int ~0.1 us, a string ~0.35 us,
a map entry ~1 us)."""
COMPARE = 10
"""Units per value compared by ``==``, ``!=``, ``<``... (about 1 us per item of two lists)."""
SCAN = 3
"""Units per item that ``in`` scans, besides comparing it."""
PASS_STRING = 50
PASS_FLOAT = 20
PASS_CONTAINER = 20
"""Units of handing one value of the scope to CEL (a string costs about 3 us, a float 1.4 us,
an int or a bool 0.1 us, a list or map 1 us besides its items)."""

_limit: ContextVar[int] = ContextVar("plait_max_expression_cost", default=DEFAULT_LIMIT)


def current_limit() -> int:
    """The cost limit in force for evaluations in this context (``max_expression_cost``)."""
    return _limit.get()


@contextmanager
def cost_limit(limit: int) -> Iterator[None]:
    """Evaluate expressions in this block (and the tasks it starts) under ``limit``."""
    token = _limit.set(limit)
    try:
        yield
    finally:
        _limit.reset(token)


class Budget:
    """The units the expressions evaluated together (one template's render, one event's
    dispatch) may spend in all: ``limit``, of which ``spent`` so far, on ``what``."""

    __slots__ = ("limit", "spent", "what")

    def __init__(self, limit: int, what: str) -> None:
        self.limit, self.spent, self.what = limit, 0, what

    def over(self, units: int) -> int | None:
        """Spend ``units`` if they fit; else the total they would make (nothing is spent)."""
        total = self.spent + units
        if total > self.limit:
            return total
        self.spent = total
        return None

    def refusal(self, total: int) -> LimitExceeded:
        """The error for a total of ``total`` units (``at least``: the rest is not counted)."""
        what = f"the estimated cost of {self.what}"
        return LimitExceeded(what, f"at least {total:,} units", f"{self.limit:,}", SETTING)


budget_in_force: ContextVar[Budget | None] = ContextVar("plait_expression_budget", default=None)
"""The Budget that evaluations in this context spend from, if any (see ``shared_budget``)."""


@contextmanager
def shared_budget(what: str, limit: int | None = None) -> Iterator[Budget]:
    """Make the expressions evaluated in this block add up against one limit (by default the
    one in force); within another such block, its budget is shared."""
    outer = budget_in_force.get()
    if outer is not None:
        yield outer
        return
    budget = Budget(current_limit() if limit is None else limit, what)
    token = budget_in_force.set(budget)
    try:
        yield budget
    finally:
        budget_in_force.reset(token)


@dataclass(frozen=True, slots=True)
class Bound:
    """Upper bounds of a value: ``size`` (items of a list or map, characters of a string),
    ``weight`` (values in it, deeply: 1 for a scalar) and ``item`` (the bound of any item,
    key or value inside; None when only the weight is known)."""

    size: Formula
    weight: Formula
    item: Bound | None = None

    def inner(self) -> Bound:
        return self.item if self.item is not None else Bound(self.weight, self.weight)


SCALAR = Bound(1, 1)


def joined(bounds: list[Bound]) -> Bound:
    """A bound of a value that is any one of ``bounds``."""
    if not bounds:
        return Bound(0, 1)
    items = [b.item for b in bounds]
    item = None if any(i is None for i in items) else joined([i for i in items if i])
    return Bound(largest(*(b.size for b in bounds)), largest(*(b.weight for b in bounds)), item)


Chain = tuple[str | int, ...]
Measure = tuple[Chain, str]
"""A chain of the scope and what to measure there: size, weight, item size or item weight."""


@dataclass(frozen=True, slots=True)
class Cost:
    """The cost formula of one expression.

    Attributes:
        formula: the estimate, over sizes measured in the scope at run time (``measures``).
        measures: what each size of the formula measures.
        fixed: the estimate when it depends on no size (most expressions), else None.
        least: the estimate with one item in every list, map and string read from the scope.
    """

    formula: Formula
    measures: tuple[Measure, ...]
    fixed: int | None
    least: int
    function: Callable[[list[int]], int]

    def at(self, scope: Mapping[str, Any], cap: int) -> int:
        """The estimate with the sizes found in ``scope``; walks stop past ``cap``."""
        return self.function([_measure(scope, m, cap) for m in self.measures])


def estimate(tree: Node) -> Cost:
    """The Cost of an expression from its syntax tree, converting its result back to Python
    included."""
    estimator = _Estimator()
    cost, bound = estimator.node(tree)
    cost = add(cost, mul(RESULT, _built(estimator, tree, bound)))
    keys = variables(cost)
    function = compiled(cost, keys)
    least = function([1] * len(keys))
    measures = tuple(cast(Measure, key) for key in keys)
    return Cost(cost, measures, None if keys else least, least, function)


def _built(estimator: _Estimator, node: Node, bound: Bound | None = None) -> Formula:
    """The weight of the result CEL builds: a value read from the scope as is (a chain, or a
    branch of ``?:`` that is one) was counted when it was handed to CEL."""
    if estimator.chain(node) is not None:
        return 0
    if isinstance(node, Choice):
        return largest(_built(estimator, node.then), _built(estimator, node.otherwise))
    return (bound or estimator.node(node)[1]).weight


class _Estimator:
    def __init__(self) -> None:
        self.bound: dict[str, Bound] = {}  # macro variables in scope

    def variable(self, chain: Chain, what: str) -> Formula:
        return ("m", (chain, what))

    def chain_bound(self, chain: Chain) -> Bound:
        item = Bound(self.variable(chain, "item size"), self.variable(chain, "item weight"))
        return Bound(self.variable(chain, "size"), self.variable(chain, "weight"), item)

    def chain(self, node: Node) -> Chain | None:
        """The scope chain ``node`` reads (``a.b[0]``), if it is one."""
        if isinstance(node, Name):
            return None if node.name in self.bound else (node.name,)
        key: str | int | None = None
        if isinstance(node, Member):
            key = node.field
        elif isinstance(node, Index) and isinstance(node.key, Literal):
            key = node.key.key
        if key is None or not isinstance(node, Member | Index):
            return None
        head = self.chain(node.target)
        return None if head is None else (*head, key)

    def node(self, node: Node) -> tuple[Formula, Bound]:
        chain = self.chain(node)
        if chain is not None:
            return len(chain), self.chain_bound(chain)
        handler = _HANDLERS[type(node)]
        return handler(self, node)

    def nodes(self, nodes: tuple[Node, ...]) -> tuple[list[Formula], list[Bound]]:
        pairs = [self.node(n) for n in nodes]
        return [c for c, _ in pairs], [b for _, b in pairs]

    def literal(self, node: Literal) -> tuple[Formula, Bound]:
        if node.kind in ("string", "bytes"):
            return 1, Bound(node.length, string_weight(node.length))
        return 1, SCALAR

    def name(self, node: Name) -> tuple[Formula, Bound]:
        return 1, self.bound[node.name]  # a scope name is a chain (see ``node``)

    def member(self, node: Member | Index) -> tuple[Formula, Bound]:
        cost, bound = self.node(node.target)
        if isinstance(node, Index):
            key_cost, _ = self.node(node.key)
            cost = add(cost, key_cost)
        return add(1, cost), bound.inner()

    def list_of(self, node: ListOf) -> tuple[Formula, Bound]:
        """``[a, b]`` copies its items deeply: it costs their weight besides their nodes."""
        costs, bounds = self.nodes(node.items)
        weight = add(1, *(b.weight for b in bounds))
        cost = add(len(bounds), *costs, mul(COPY, weight))
        return cost, Bound(len(bounds), weight, joined(bounds))

    def map_of(self, node: MapOf) -> tuple[Formula, Bound]:
        """``{k: v}`` copies its keys and values deeply, as a list literal does."""
        costs, bounds = self.nodes(tuple(part for entry in node.entries for part in entry))
        weight = add(1, MAP_ENTRY * len(node.entries), *(b.weight for b in bounds))
        cost = add(MAP_ENTRY * len(node.entries), *costs, mul(COPY, weight))
        return cost, Bound(len(node.entries), weight, joined(bounds))

    def unary(self, node: Unary) -> tuple[Formula, Bound]:
        cost, _ = self.node(node.operand)
        return add(1, cost), SCALAR

    def choice(self, node: Choice) -> tuple[Formula, Bound]:
        (test, then, otherwise), (_, a, b) = self.nodes((node.test, node.then, node.otherwise))
        return add(1, test, largest(then, otherwise)), joined([a, b])

    def binary(self, node: Binary) -> tuple[Formula, Bound]:
        (left, right), (a, b) = self.nodes((node.left, node.right))
        cost = add(1, left, right)
        if node.op == "+" and not (_numeric(node.left) or _numeric(node.right)):
            # strings, bytes and lists: the result is a copy of both
            weight = add(a.weight, b.weight)
            return add(cost, weight), Bound(add(a.size, b.size), weight, joined([a, b]))
        if node.op == "in":  # compared with each item: at most its own weight, or theirs
            if isinstance(a.weight, int):
                return add(cost, mul(b.size, SCAN + COMPARE * a.weight)), SCALAR
            return add(cost, mul(SCAN, b.size), mul(COMPARE, b.weight)), SCALAR
        if node.op in ("==", "!=", "<", "<=", ">", ">="):
            return add(cost, mul(COMPARE, smallest(a.weight, b.weight))), SCALAR
        return cost, SCALAR

    def call(self, node: Call) -> tuple[Formula, Bound]:
        if node.target is not None and node.name in MACROS and node.args:
            variable = node.args[0]
            if isinstance(variable, Name) and len(node.args) in (2, 3):
                return self.comprehension(node.name, node.target, variable.name, node.args[1:])
        if node.name == "has" and node.target is None and len(node.args) == 1:
            cost, _ = self.node(node.args[0])
            return add(1, cost), SCALAR
        args = ((node.target,) if node.target is not None else ()) + node.args
        costs, bounds = self.nodes(args)
        work, (size, weight) = call_cost(node.name, bounds)
        if node.name == "matches" and args:
            work = add(work, self.matching(bounds[0] if len(args) > 1 else None, args[-1]))
        item = bounds[0].inner() if bounds and node.name not in ("split", "join") else None
        return add(1, work, *costs), Bound(size, weight, item)

    def matching(self, text: Bound | None, pattern: Node) -> Formula:
        """``text.matches(pattern)``: compiling the pattern, then scanning the text, which takes
        up to its length times the size of the compiled pattern (the regex engine's slow path,
        taken for instance by a Unicode ``\\b`` over non-ASCII text)."""
        size = self.regex(pattern)
        compiling = mul(REGEX_UNIT, size)
        if text is None:
            return compiling
        scanned = min(size, REGEX_LARGEST) if isinstance(size, int) else size
        return add(compiling, divided(mul(text.size, scanned), REGEX_SCAN))

    def regex(self, pattern: Node) -> Formula:
        """The ``regex_size`` of a pattern: of a literal now, of a scope value when it is read;
        a computed pattern counts as one that reaches the regex engine's size limit."""
        if isinstance(pattern, Literal) and pattern.kind == "string":
            return regex_size(pattern.text.replace("\\\\", "\\"))
        chain = self.chain(pattern)
        return REGEX_LARGEST if chain is None else self.variable(chain, "regex")

    def comprehension(
        self, macro: str, over: Node, variable: str, body: tuple[Node, ...]
    ) -> tuple[Formula, Bound]:
        """``over.macro(variable, body...)``: every iteration runs the body; ``map`` and
        ``filter`` also copy their result so far on each iteration (CEL's fold)."""
        range_cost, range_bound = self.node(over)
        outer = self.bound.get(variable)
        self.bound[variable] = range_bound.inner()
        try:
            costs, bounds = self.nodes(body)
        finally:
            if outer is None:
                del self.bound[variable]
            else:
                self.bound[variable] = outer
        count = range_bound.size
        cost = add(1, range_cost, mul(count, add(ITERATION, *costs)))
        if macro == "map":
            each = bounds[-1]
            weight = add(1, mul(count, each.weight))
            copied = mul(COPY, mul(triangle(count), each.weight))
            return add(cost, copied), Bound(count, weight, each)
        if macro == "filter":
            copied = mul(COPY, mul(triangle(count), range_bound.inner().weight))
            return add(cost, copied), range_bound
        return cost, SCALAR


def _numeric(node: Node) -> bool:
    """Whether ``node`` is certainly a number (so ``+`` on it is arithmetic)."""
    if isinstance(node, Literal):
        return node.kind == "number"
    if isinstance(node, Unary):
        return node.op == "-"
    return isinstance(node, Binary) and node.op in ("-", "*", "/", "%")


_HANDLERS: dict[type, Callable[[_Estimator, Any], tuple[Formula, Bound]]] = {
    Literal: _Estimator.literal,
    Name: _Estimator.name,
    Member: _Estimator.member,
    Index: _Estimator.member,
    ListOf: _Estimator.list_of,
    MapOf: _Estimator.map_of,
    Unary: _Estimator.unary,
    Binary: _Estimator.binary,
    Choice: _Estimator.choice,
    Call: _Estimator.call,
}


# Measuring the scope at run time.

_MISSING = object()


def _measure(scope: Mapping[str, Any], measure: Measure, cap: int) -> int:
    chain, what = measure
    value: Any = scope.get(str(chain[0]), _MISSING)
    for key in chain[1:]:
        if type(value) is dict or isinstance(value, Mapping):
            value = value.get(key, _MISSING)
        elif type(value) is list and type(key) is int and -len(value) <= key < len(value):
            value = value[key]
        else:
            return 0
    if value is _MISSING:
        return 0
    if what == "size":
        return size_of(value)
    if what == "weight":
        return weight_of(value, cap)
    if what == "regex":
        return _regex(value)
    items = _items(value)
    if what == "item size":
        return max(map(size_of, items), default=0)
    return max((weight_of(item, cap) for item in items), default=0)


def _regex(value: Any) -> int:
    if not isinstance(value, str):
        return 0
    return REGEX_LARGEST if len(value) > REGEX_LARGEST else min(regex_size(value), REGEX_LARGEST)


def _items(value: Any) -> list[Any]:
    if isinstance(value, Mapping):
        return [*value.keys(), *value.values()]
    return value if isinstance(value, list) else []


def size_of(value: Any) -> int:
    """Items of a list or map, characters of a string, bytes of bytes; 1 for a scalar."""
    kind = type(value)
    if kind is str or kind is list or kind is dict or isinstance(value, str | bytes | Mapping):
        return len(value)
    return 1


class _Tariff:
    """Units per value met in a walk: a scalar (``atom``; ``real`` for a float), a string
    (``text`` plus its length over ``CHARS_PER_UNIT``), a list or map (``container``, plus
    ``entry`` per map entry)."""

    __slots__ = ("container", "entry", "scalar", "text")

    def __init__(self, atom: int, real: int, text: int, container: int, entry: int) -> None:
        self.scalar = {int: atom, bool: atom, type(None): atom, float: real}
        self.text = text
        self.container = container
        self.entry = entry


_WEIGHT = _Tariff(atom=1, real=1, text=1, container=1, entry=MAP_ENTRY)
_PASSING = _Tariff(atom=1, real=PASS_FLOAT, text=PASS_STRING, container=PASS_CONTAINER, entry=0)
_BULK = 32
"""Lists and maps at least this long are counted in bulk when they hold only scalars."""


def weight_of(value: Any, cap: int) -> int:
    """Values in ``value``, deeply (map entries and long strings weigh more); the walk stops
    once the weight passes ``cap``, so measuring never costs more than the limit allows."""
    kind = type(value)
    if kind is str:  # most of what expressions read: no walk
        return _WEIGHT.text + len(value) // CHARS_PER_UNIT
    units = _WEIGHT.scalar.get(kind)
    return units if units is not None else _walk([value], _WEIGHT, cap)


def passing_cost(values: list[Any], cap: int) -> int:
    """Units of handing ``values`` to CEL, which converts each value inside them; the walk
    stops once the total passes ``cap``. Scalars and strings, what most expressions are handed,
    are counted here without a walk."""
    total = 0
    nested: list[Any] = []
    scalar = _PASSING.scalar
    for value in values:
        kind = type(value)
        units = scalar.get(kind)
        if units is not None:
            total += units
        elif kind is str:
            total += PASS_STRING + len(value) // CHARS_PER_UNIT
        elif kind is list or kind is dict:
            nested.append(value)
        elif callable(value) or not isinstance(value, tuple | Mapping | bytes):
            total += 1  # a function handed to CEL, a date...
        else:
            nested.append(value)
    return total + _walk(nested, _PASSING, cap - total) if nested else total


def _walk(stack: list[Any], tariff: _Tariff, cap: int) -> int:
    """The units of the values in ``stack`` (consumed), deeply, or a total past ``cap``.

    Long lists and maps of scalars or of strings (most of JSON) are counted at C speed (about
    20 ns per value); the rest one value at a time (about 0.15 us), still less than CEL takes
    to convert the value.
    """
    scalar = tariff.scalar
    total = 0
    while stack and total <= cap:
        item = stack.pop()
        kind = type(item)
        units = scalar.get(kind)
        if units is not None:
            total += units
        elif kind is str or kind is bytes:
            total += tariff.text + len(item) // CHARS_PER_UNIT
        elif kind is list or kind is tuple:
            total += tariff.container + _flat(item, tariff, stack)
        elif isinstance(item, Mapping):
            total += tariff.container + tariff.entry * len(item)
            total += _flat(list(item.keys()), tariff, stack)
            total += _flat(list(item.values()), tariff, stack)
        elif isinstance(item, str | bytes):
            total += tariff.text + len(item) // CHARS_PER_UNIT
        else:
            total += 1  # a function handed to CEL, a date...
    return total


def _flat(items: Any, tariff: _Tariff, stack: list[Any]) -> int:
    """The units of ``items`` if they are many and all scalars or all strings; else 0, and
    they go on ``stack`` to be walked one by one."""
    if len(items) >= _BULK:
        kinds = Counter(map(type, items))
        if kinds.keys() <= tariff.scalar.keys():
            return sum(tariff.scalar[kind] * count for kind, count in kinds.items())
        if kinds.keys() == {str}:
            return tariff.text * len(items) + sum(map(len, items)) // CHARS_PER_UNIT
    stack.extend(items)
    return 0
