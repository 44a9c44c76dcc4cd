"""Compile and evaluate CEL expressions, with errors that name what went wrong.

An expression is rewritten from the brief's JavaScript forms (see ``rewrite``), checked against
the caps of length and nesting, compiled once and cached by its text. Its cost is estimated when
it compiles (see ``cost``) and bounded by ``max_expression_cost``: checked when a definition is
saved, and before each evaluation with the sizes of the values it reads (the CEL runtime has no
budget of its own and cannot be interrupted). Evaluation passes only the names the expression
reads, so a scope holding large step outputs costs nothing for an expression that does not read
them.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import cel
from cel.stdlib import STDLIB_FUNCTIONS

from plait.errors import LimitExceeded, PlaitError
from plait.expressions.cost import (
    SETTING,
    Budget,
    Cost,
    budget_in_force,
    current_limit,
    estimate,
    passing_cost,
)
from plait.expressions.rewrite import (
    TRUTHY,
    Analysis,
    Chain,
    Translation,
    analyse,
    substitute,
    translate,
)
from plait.expressions.syntax import SyntaxProblem, parse

MAX_EXPRESSION_LENGTH = 2000
"""Longest expression accepted, in characters of the source text."""

MAX_NESTING = 12
"""Deepest nesting of brackets (calls, macros, indexes, lists, maps, parentheses) accepted."""

_CEL_ERROR = re.compile(r"<input>:(\d+):(\d+): (.*)")
_UNDEFINED = re.compile(r"Undefined variable or function: '([^']*)'")
# Functions the CEL runtime provides itself (not exhaustive: used to word run-time errors).
_BUILTIN_NAMES = """size int uint double string bytes timestamp duration dyn type contains
startsWith endsWith matches has getFullYear getMonth getDate getDayOfMonth getDayOfYear
getDayOfWeek getHours getMinutes getSeconds getMilliseconds"""
_BUILTINS = frozenset(_BUILTIN_NAMES.split())


def _shorten(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ExpressionError(PlaitError):
    """An expression does not compile: bad syntax, too long or nested too deeply.

    Attributes:
        expression: the expression as written.
        position: 0-based character offset in ``expression`` where the problem is, if known.
        reason: what is wrong, without the expression.
        path: the field the expression sits in (set by templates), else None.
    """

    def __init__(
        self, expression: str, reason: str, position: int | None = None, path: str | None = None
    ) -> None:
        self.expression = expression
        self.reason = reason
        self.position = position
        self.path = path
        field = f"field {path!r}: " if path else ""
        at = f" at position {position}" if position is not None else ""
        super().__init__(
            f"{field}expression {_shorten(expression)!r} does not compile{at}: {reason}"
        )


class EvaluationError(PlaitError):
    """An expression failed at run time: a missing key or name, a type error.

    Attributes:
        expression: the expression as written.
        reason: what went wrong, e.g. ``no key 'email' in assignAccountManager``.
    """

    def __init__(self, expression: str, reason: str) -> None:
        self.expression = expression
        self.reason = reason
        super().__init__(self._message())

    def _message(self) -> str:
        return f"expression {_shorten(self.expression)!r} failed: {self.reason}"


def _over(value: int, limit: int, qualifier: str = "", least: bool = False) -> str:
    """Why an estimate of ``value`` units is refused, naming the limit and its setting."""
    shown = f"{'at least ' if least else ''}{value:,} units"
    return str(LimitExceeded(f"its estimated cost{qualifier}", shown, f"{limit:,}", SETTING))


class ExpressionTooCostly(ExpressionError):
    """An expression costs more than ``max_expression_cost`` whatever the data: it is refused
    when its definition is saved.

    Attributes:
        value: its estimated cost, in units, with one item in each list, map and string it reads.
        limit: the limit in force.
        setting: ``max_expression_cost``.
    """

    def __init__(self, expression: str, value: int, limit: int, reads: bool) -> None:
        self.value, self.limit, self.setting = value, limit, SETTING
        qualifier = " with one item in each list, map and string it reads" if reads else ""
        super().__init__(expression, _over(value, limit, qualifier))
        # not "does not compile": it compiles, it is refused
        Exception.__init__(self, f"expression {_shorten(expression)!r} is refused: {self.reason}")


class EvaluationTooCostly(EvaluationError):
    """An expression would cost more than ``max_expression_cost`` with the values it reads: it
    is not evaluated.

    Attributes:
        value: its estimated cost, in units, with these values (at least this: measuring the
            values stops once the limit is passed).
        limit: the limit in force.
        setting: ``max_expression_cost``.
    """

    def __init__(self, expression: str, value: int, limit: int) -> None:
        self.value, self.limit, self.setting = value, limit, SETTING
        super().__init__(expression, _over(value, limit, " with these values", least=True))


class BudgetExceeded(EvaluationTooCostly):
    """An expression would take the expressions evaluated with it (one template's render, one
    event's dispatch) over ``max_expression_cost`` together: it is not evaluated.

    Attributes:
        value: the total estimated cost with this expression, in units.
        limit: the limit in force.
        setting: ``max_expression_cost``.
    """

    def __init__(self, expression: str, budget: Budget, total: int) -> None:
        self.value, self.limit, self.setting = total, budget.limit, SETTING
        EvaluationError.__init__(self, expression, str(budget.refusal(total)))


def truthy(value: Any) -> bool:
    """Truthiness of ``!!x``: null, false, 0, NaN, "" and empty lists and maps are false."""
    if value is None or value is False:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value != 0 and not math.isnan(value)
    if isinstance(value, str | bytes | list | dict):
        return len(value) > 0
    return True


# Extra functions, from the package's cel-go-like library. Namespaced ones (math.greatest) are
# left out: the CEL runtime parses ``math`` as a variable.
_LIBRARY_NAMES = """bool min max sum charAt indexOf lastIndexOf substring replace split join
lowerAscii upperAscii trim reverse distinct flatten slice sort"""


class _Failure(threading.local):
    """The first exception a library function raised during the current evaluation."""

    value: tuple[str, Exception] | None = None


_failure = _Failure()


def _guarded(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a Python function so that its exception is reported by ``evaluate``.

    An exception raised into the CEL runtime is printed to stderr by the binding; instead the
    first one is remembered, null is returned, and ``evaluate`` raises it as an EvaluationError.
    """

    def call(*args: Any) -> Any:
        try:
            return function(*args)
        except Exception as exc:
            if _failure.value is None:
                _failure.value = (name, exc)
            return None

    return call


FUNCTIONS: dict[str, Callable[..., Any]] = {
    TRUTHY: truthy,
    **{name: _guarded(name, STDLIB_FUNCTIONS[name]) for name in _LIBRARY_NAMES.split()},
}
"""Functions available to expressions besides CEL's own."""

_MISSING = object()
_SUBSTITUTE = "__plait_"  # prefix of the variables that stand for member chains


class Expression:
    """A compiled expression; evaluate it against a scope of names.

    Attributes:
        source: the expression as written.
        cel: the CEL text after rewriting the JavaScript forms.
        names: the top-level names it reads (not macro variables, not functions).
    """

    __slots__ = (
        "_bare",
        "_chains",
        "_cost",
        "_fast",
        "_functions",
        "_lookup",
        "_optional",
        "_program",
        "_shape",
        "cel",
        "names",
        "source",
    )

    def __init__(
        self,
        source: str,
        translation: Translation,
        analysis: Analysis,
        program: cel.Program,
        cost: Cost,
    ) -> None:
        self.source = source
        self._cost = cost
        self.cel = translation.text
        self.names = analysis.names & frozenset(program.variables())
        self._program = program
        self._optional = translation.truthy_names
        self._functions = {n: FUNCTIONS[n] for n in program.functions() if n in FUNCTIONS}
        self._chains = tuple(c.path for c in analysis.chains if len(c.path) > 1)
        # Converting a value into CEL costs about a microsecond per map level, so only what the
        # expression can read is handed over: the keys it reads of each name (the shape) and,
        # on the fast path, the values at the end of its member chains, bound to variables.
        self._shape = _shape(tuple(c.path for c in analysis.chains))
        self._lookup = tuple(program.variables())  # macro variables too, harmlessly
        self._fast = _FastPath.build(self.cel, analysis.chains)
        bare = self.cel.strip()
        self._bare = bare if bare.isidentifier() and bare not in _KEYWORDS else None

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"

    @property
    def cost(self) -> Cost:
        """The estimate of its cost (see ``plait.expressions.cost``)."""
        return self._cost

    def check_cost(self, limit: int | None = None) -> None:
        """Refuse the expression if it costs more than ``limit`` whatever the data.

        Args:
            limit: the cost limit; by default the one in force (``max_expression_cost``).

        Raises:
            ExpressionTooCostly: even with one item in each list, map and string it reads.
        """
        limit = current_limit() if limit is None else limit
        if self._cost.least > limit:
            reads = self._cost.fixed is None
            raise ExpressionTooCostly(self.source, self._cost.least, limit, reads)

    def estimate(self, scope: Mapping[str, Any], *, cost_limit: int | None = None) -> int:
        """The estimated cost of evaluating the expression with ``scope``, in units: what
        ``evaluate`` checks against the limit (handing the values to CEL included).

        Raises:
            EvaluationTooCostly: it is over ``cost_limit`` (by default the limit in force).
        """
        limit = current_limit() if cost_limit is None else cost_limit
        fixed = self._cost.fixed
        spent = fixed if fixed is not None else self._cost.at(scope, limit)
        if spent > limit:
            raise EvaluationTooCostly(self.source, spent, limit)
        if self._bare is not None and self._bare in scope:
            return spent
        program, variables = self._bind(scope)
        if program is None:
            return spent
        spent += passing_cost(list(variables.values()), limit - spent)
        if spent > limit:
            raise EvaluationTooCostly(self.source, spent, limit)
        return spent

    def evaluate(self, scope: Mapping[str, Any], *, cost_limit: int | None = None) -> Any:
        """The value of the expression with ``scope`` bound.

        Args:
            scope: the names it may read.
            cost_limit: the cost limit; by default the one in force (``max_expression_cost``).

        Raises:
            EvaluationTooCostly: its estimated cost with the values of ``scope`` is over the
                limit, or over what is left of the budget it shares with the expressions
                evaluated with it (``BudgetExceeded``, see ``cost.shared_budget``): it is not
                evaluated at all.
            EvaluationError: a missing key or name, a type error, a failing function.
        """
        limit = current_limit() if cost_limit is None else cost_limit
        fixed = self._cost.fixed
        spent = fixed if fixed is not None else self._cost.at(scope, limit)
        if spent > limit:
            raise EvaluationTooCostly(self.source, spent, limit)
        budget = budget_in_force.get()
        if self._bare is not None:  # ``{{ extract }}``: the value itself, in its own key order
            value = scope.get(self._bare, _MISSING)
            if value is not _MISSING:
                if budget is not None:
                    self._spend(budget, spent)
                return copy_json(value)
        program, variables = self._bind(scope)
        if program is None:  # the whole expression is one chain: its value is the result
            if budget is not None:
                self._spend(budget, spent)
            return copy_json(variables)
        spent += passing_cost(list(variables.values()), limit - spent)
        if spent > limit:
            raise EvaluationTooCostly(self.source, spent, limit)
        if budget is not None:
            self._spend(budget, spent)
        if self._functions:
            _failure.value = None
        try:
            result = program.execute(variables)
        except Exception as exc:
            raise EvaluationError(self.source, self._reason(exc, scope)) from exc
        if self._functions and _failure.value is not None:
            raise EvaluationError(self.source, self._reason(None, scope))
        return _ordered(result) if isinstance(result, dict | list) else result

    def _spend(self, budget: Budget, units: int) -> None:
        total = budget.over(units)
        if total is not None:
            raise BudgetExceeded(self.source, budget, total)

    def _bind(self, scope: Mapping[str, Any]) -> tuple[cel.Program | None, Any]:
        """The program to run and the variables to hand it; or None and the value itself,
        when the expression is one chain of the scope that resolves."""
        variables: dict[str, Any] = dict(self._functions)
        fast = self._fast
        if fast is not None and fast.bind(scope, variables):
            if fast.direct:
                return None, variables[fast.direct]
            program, lookup = fast.program, fast.lookup
        else:
            program, lookup = self._program, self._lookup
        for name in lookup:
            value = scope.get(name, _MISSING)
            if value is not _MISSING:
                shape = self._shape.get(name)
                variables[name] = _prune(value, shape) if shape and type(value) is dict else value
            elif name in self._optional:
                variables[name] = None
        return program, variables

    def _reason(self, exc: Exception | None, scope: Mapping[str, Any]) -> str:
        """Explain a failure in the user's terms (runs only when evaluation failed)."""
        failed = _failure.value if self._functions else None
        if failed is not None:
            _failure.value = None
            return f"{failed[0]}() failed: {type(failed[1]).__name__}: {failed[1]}"
        message = str(exc).strip("'\"") if isinstance(exc, KeyError) else str(exc)
        if isinstance(exc, KeyError):
            return self._diagnose(scope, "key", message) or f"no key {message!r}"
        if isinstance(exc, IndexError):
            return self._diagnose(scope, "index") or message
        if isinstance(exc, ZeroDivisionError):
            return "division by zero"
        undefined = _UNDEFINED.search(message)
        if isinstance(exc, RuntimeError) and undefined:
            return self._undefined(undefined.group(1), scope)
        if isinstance(exc, TypeError):
            diagnosis = self._diagnose(scope, "type")
            return diagnosis or f"type error: {message[:1].lower()}{message[1:]}"
        return f"{type(exc).__name__}: {message}"

    def _undefined(self, name: str, scope: Mapping[str, Any]) -> str:
        if name in self._program.functions() and name not in self._lookup:
            if name in FUNCTIONS or name in _BUILTINS:
                return f"type error: {name}() does not accept arguments of these types"
            return f"unknown function {name!r}"
        known = sorted(str(key) for key in scope)
        listed = ", ".join(known[:12]) + (", …" if len(known) > 12 else "")
        return f"undefined name {name!r} (names available: {listed or 'none'})"

    def _diagnose(self, scope: Mapping[str, Any], problem: str, key: str = "") -> str | None:
        """Walk the member chains of the expression through ``scope`` to find where one breaks.

        ``problem`` is the kind of failure to look for: ``key`` (the missing ``key``),
        ``index`` (out of range) or ``type`` (a step into null, a scalar or a list by name).
        """
        for chain in self._chains:
            value = scope.get(str(chain[0]), _MISSING)
            if value is _MISSING:
                continue
            for depth, step in enumerate(chain[1:], start=1):
                found = _follow(value, step)
                if found is _MISSING:
                    reason = _explain(value, step, _path(chain[:depth]), problem, key)
                    if reason:
                        return reason
                    break
                value = found
        return None


def copy_json(value: Any) -> Any:
    """A deep copy of the dicts and lists in ``value``, so results never alias the scope."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value


def _follow(value: Any, key: str | int) -> Any:
    """``value[key]`` as CEL would read it, or _MISSING."""
    if isinstance(value, Mapping):
        return value.get(key, _MISSING)
    if isinstance(value, list) and isinstance(key, int) and 0 <= key < len(value):
        return value[key]
    return _MISSING


def _explain(value: Any, key: str | int, path: str, problem: str, missing: str) -> str | None:
    """Why ``key`` cannot be followed from ``value`` at ``path``, if that is the ``problem``."""
    if isinstance(value, Mapping):
        if problem != "key" or str(key) != missing:
            return None
        keys = ", ".join(repr(str(k)) for k in list(value)[:10])
        more = ", …" if len(value) > 10 else ""
        return f"no key {str(key)!r} in {path} (it has {keys + more if keys else 'no keys'})"
    if isinstance(value, list) and isinstance(key, int):
        if problem != "index":
            return None
        return f"index {key} is out of range for {path} (length {len(value)})"
    if problem != "type":
        return None
    kind = "null" if value is None else f"a {_type_name(value)}"
    return f"{path} is {kind}, so it has no {'item' if isinstance(key, int) else 'key'} {key!r}"


def _type_name(value: Any) -> str:
    names = {bool: "bool", int: "int", float: "double", str: "string", list: "list"}
    return names.get(type(value), type(value).__name__)


def _path(chain: tuple[str | int, ...]) -> str:
    out = str(chain[0])
    for key in chain[1:]:
        if isinstance(key, int):
            out += f"[{key}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            out += f".{key}"
        else:
            out += f"[{key!r}]"
    return out


Shape = dict[str, "Shape | None"]
"""The keys an expression reads below a name; None where it needs the whole value."""


def _shape(chains: tuple[tuple[str | int, ...], ...]) -> Shape:
    """Which parts of each name's value the expression can read, from its member chains.

    ``input.plan == "a" || has(input.size)`` reads only ``plan`` and ``size`` of ``input``, so
    only those are handed to CEL: converting a whole step output or ``steps`` (every output of
    the run) on each evaluation would make its cost grow with the run.
    """
    shape: Shape = {}
    for chain in chains:
        keys = [str(chain[0])]
        for key in chain[1:]:
            if isinstance(key, int):
                break
            keys.append(key)
        node: Shape | None = shape
        for key in keys[:-1]:
            node = node.setdefault(key, {}) if node is not None else None
        if node is not None:
            node[keys[-1]] = None
    return shape


def _prune(value: dict[str, Any], shape: Shape) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, below in shape.items():
        if key in value:
            item = value[key]
            out[key] = _prune(item, below) if below and type(item) is dict else item
    return out


_KEYWORDS = frozenset({"true", "false", "null", "in"})


def _ordered(value: Any) -> Any:
    """Maps built by CEL come back in hash order; give them a stable (sorted) key order so a
    rendered input is the same on every replay."""
    if isinstance(value, dict):
        return {k: _ordered(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list):
        return [_ordered(v) for v in value]
    return value


class _FastPath:
    """The expression with its member chains replaced by variables bound in Python.

    ``event.data.account == steps.account.id`` runs as ``__plait_0 == __plait_1``. When a chain
    does not resolve (a missing key, a null on the way) the full program runs instead, so
    errors and CEL's own semantics (``has``, short-circuits) are unchanged.
    """

    __slots__ = ("chains", "direct", "lookup", "program")

    def __init__(self, program: cel.Program, chains: tuple[tuple[str, tuple[str | int, ...]], ...]):
        self.program = program
        self.chains = chains
        self.lookup = tuple(n for n in program.variables() if not n.startswith(_SUBSTITUTE))
        # ``{{input.plan}}``: no CEL at all, the chain's value (copied) is the result.
        self.direct = program.source.strip() if program.source.strip() in dict(chains) else None

    @classmethod
    def build(cls, text: str, chains: tuple[Chain, ...]) -> _FastPath | None:
        fast_text, bound = substitute(text, chains, _SUBSTITUTE)
        if not bound:
            return None
        try:
            program = cel.compile(fast_text)
        except ValueError:  # pragma: no cover - substituting a chain keeps the text valid
            return None
        return cls(program, tuple(bound.items()))

    def bind(self, scope: Mapping[str, Any], variables: dict[str, Any]) -> bool:
        """Bind each chain's value into ``variables``; False if one does not resolve."""
        for name, path in self.chains:
            value = scope.get(str(path[0]), _MISSING)
            for key in path[1:]:
                if value is _MISSING:
                    return False
                value = _follow(value, key)
            if value is _MISSING:
                return False
            variables[name] = value
        return True


@lru_cache(maxsize=4096)
def compile_expression(text: str) -> Expression:
    """Compile ``text`` (CEL, or the brief's JavaScript forms) once; cached by text.

    Raises:
        ExpressionError: bad syntax, longer than ``MAX_EXPRESSION_LENGTH`` characters, or
            nested deeper than ``MAX_NESTING``.
    """
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(
            text, f"it is {len(text)} characters long; the limit is {MAX_EXPRESSION_LENGTH}"
        )
    if not text.strip():
        raise ExpressionError(text, "the expression is empty", 0)
    translation = translate(text)
    analysis = analyse(translation.text)
    if analysis.depth > MAX_NESTING:
        raise ExpressionError(
            text,
            f"nesting depth {analysis.depth} exceeds the limit of {MAX_NESTING}",
            translation.offsets[analysis.deepest_at],
        )
    try:
        program = cel.compile(translation.text)
    except ValueError as exc:
        reason, offset = _syntax_error(str(exc), translation.text)
        position = None if offset is None else translation.offsets[offset]
        raise ExpressionError(text, reason, position) from None
    try:
        cost = estimate(parse(translation.text))
    except SyntaxProblem as exc:  # pragma: no cover - the reader follows CEL's grammar
        raise ExpressionError(text, f"its cost cannot be estimated ({exc})") from None
    return Expression(text, translation, analysis, program, cost)


def _syntax_error(message: str, text: str) -> tuple[str, int | None]:
    """The reason and the 0-based offset in ``text`` of a CEL parse error message."""
    found = _CEL_ERROR.search(message)
    if not found:
        return message.splitlines()[0] if message else "syntax error", None
    line, column, reason = int(found.group(1)), int(found.group(2)), found.group(3)
    lines = text.split("\n")
    offset = sum(len(s) + 1 for s in lines[: line - 1]) + column - 1
    return reason[:1].lower() + reason[1:], min(max(offset, 0), len(text))
