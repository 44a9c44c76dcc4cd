"""Flow limits of a step: a rate limit, a bulkhead and a circuit breaker (docs/flow-control.md).

Each is a small frozen dataclass, given in code (``@engine.action("charge", rate_limit=...)``,
``ctx.step(..., bulkhead=...)``) as the dataclass or as a dict, and in a definition as a step's
``rateLimit``, ``bulkhead`` and ``circuitBreaker``. :func:`parse_limits` reads either form and
reports every problem with its path; the state each keeps is shared by every worker through
the store (``plait.store.limits``); ``plait.runtime.gates`` applies them around an attempt.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import timedelta
from typing import Any, Literal

NAME_LIMIT = 200
"""The longest name of a limit (the store keys its state by it)."""


@dataclass(frozen=True)
class RateLimit:
    """At most ``limit`` calls per ``period`` seconds across every worker, with bursts of up to
    ``burst`` calls at once (1: evenly spaced). ``name`` (default: the action's name, else the
    step's) is what callers that share the limit share."""

    limit: int
    period: float = 1.0
    burst: int = 1
    name: str | None = None
    key: str | None = None
    """A workflow's start throttle only: a CEL expression over the start's input (``input``;
    a code workflow's arguments are ``args``) whose value gets a limit of its own."""

    @property
    def interval(self) -> float:
        """Seconds between two calls at the sustained rate (GCRA's emission interval)."""
        return self.period / self.limit

    @property
    def tolerance(self) -> float:
        """How far ahead of the sustained rate a burst may run (GCRA's tolerance)."""
        return self.interval * (self.burst - 1)


@dataclass(frozen=True)
class Bulkhead:
    """At most ``limit`` executions at once across every worker, per ``name``."""

    limit: int
    name: str | None = None


OnOpen = Literal["fail", "wait"]


@dataclass(frozen=True)
class CircuitBreaker:
    """After ``failures`` failed attempts within ``window`` seconds the circuit opens for
    ``reset`` seconds, then lets one probe through (half-open): its success closes the circuit,
    its failure opens it again. While it is open a step fails at once with ``CircuitOpen``
    (``on_open="fail"``) or waits, suspended, until it half-opens (``"wait"``)."""

    failures: int = 5
    window: float = 60.0
    reset: float = 30.0
    on_open: OnOpen = "fail"
    name: str | None = None


@dataclass(frozen=True)
class StepLimits:
    """The limits of one step (any may be None), their names filled in."""

    rate_limit: RateLimit | None = None
    bulkhead: Bulkhead | None = None
    circuit_breaker: CircuitBreaker | None = None

    def named(self, default: str) -> StepLimits:
        """These limits with ``default`` as the name of each that has none."""
        rate, bulk, circuit = self.rate_limit, self.bulkhead, self.circuit_breaker
        return StepLimits(
            None if rate is None else replace(rate, name=rate.name or default),
            None if bulk is None else replace(bulk, name=bulk.name or default),
            None if circuit is None else replace(circuit, name=circuit.name or default),
        )

    def over(self, other: StepLimits | None) -> StepLimits:
        """These limits, each missing one taken from ``other`` (a step's own over its
        action's)."""
        if other is None:
            return self
        return StepLimits(self.rate_limit or other.rate_limit, self.bulkhead or other.bulkhead,
                          self.circuit_breaker or other.circuit_breaker)  # fmt: skip

    @property
    def empty(self) -> bool:
        return self.rate_limit is None and self.bulkhead is None and self.circuit_breaker is None


Problems = list[tuple[str, str]]
"""``(path below the value, message)`` of each problem found (path ``""``: the value)."""

ATTRIBUTE = "__plait_limits__"
"""The attribute ``@engine.action`` sets on a function it registers with limits, so that
``ctx.step(name, fn)`` applies them to code steps too."""


def limits_of(
    rate_limit: Any = None,
    bulkhead: Any = None,
    circuit_breaker: Any = None,
    *,
    name: str | None = None,
) -> StepLimits | None:
    """The limits given in code (dataclasses or dicts), named ``name`` by default; None when
    none is given. Raises ``ValueError`` listing every problem."""
    if rate_limit is None and bulkhead is None and circuit_breaker is None:
        return None
    raw = {"rateLimit": rate_limit, "bulkhead": bulkhead, "circuitBreaker": circuit_breaker}
    found, problems = parse_limits({k: v for k, v in raw.items() if v is not None})
    if problems:
        raise ValueError("; ".join(f"{path.lstrip('.')}: {message}" for path, message in problems))
    return found if name is None else found.named(name)


def attach(fn: Callable[..., Any], limits: StepLimits) -> None:
    """Mark ``fn`` (an action's function) with ``limits`` for the code steps that call it."""
    try:
        setattr(fn, ATTRIBUTE, limits)
    except (AttributeError, TypeError):  # a bound method or a builtin: code steps name theirs
        return


def attached(fn: Callable[..., Any]) -> StepLimits | None:
    found = getattr(fn, ATTRIBUTE, None)
    return found if isinstance(found, StepLimits) else None


def parse_limits(raw: Mapping[str, Any]) -> tuple[StepLimits, Problems]:
    """``{rateLimit, bulkhead, circuitBreaker}`` (each a dict, or the dataclass itself) as
    :class:`StepLimits`, and the problems found (paths like ``.rateLimit.limit``)."""
    problems: Problems = []
    rate = _each(raw.get("rateLimit"), RateLimit, ".rateLimit", _rate_limit, problems)
    bulk = _each(raw.get("bulkhead"), Bulkhead, ".bulkhead", _bulkhead, problems)
    circuit = _each(raw.get("circuitBreaker"), CircuitBreaker, ".circuitBreaker", _circuit,
                    problems)  # fmt: skip
    return StepLimits(rate, bulk, circuit), problems


def _each(
    value: Any, kind: type, where: str, parse: Callable[[Fields], Any], problems: Problems
) -> Any:
    if value is None:
        return None
    if isinstance(value, kind) and isinstance(value, RateLimit | Bulkhead | CircuitBreaker):
        value = {k: v for k, v in asdict(value).items() if v is not None}
    if not isinstance(value, Mapping):
        problems.append((where, f"expected an object, not {value!r}"))
        return None
    fields = Fields(dict(value), where, problems)
    found = parse(fields)
    fields.unknown()
    return None if fields.bad else found


class Fields:
    """The keys of one limit's object, read with their problems noted."""

    def __init__(self, raw: dict[str, Any], where: str, problems: Problems) -> None:
        self.raw, self.where, self.problems = raw, where, problems
        self.read: set[str] = set()
        self.bad = False

    def _problem(self, key: str, message: str) -> None:
        self.problems.append((f"{self.where}.{key}", message))
        self.bad = True

    def _get(self, *keys: str) -> tuple[str, Any]:
        self.read.update(keys)
        for key in keys:
            if self.raw.get(key) is not None:
                return key, self.raw[key]
        return keys[0], None

    def whole(self, *keys: str, default: int | None = None) -> int:
        key, value = self._get(*keys)
        if value is None:
            if default is None:
                self._problem(key, "is required (a whole number >= 1)")
            return default or 1
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self._problem(key, f"must be a whole number >= 1, not {value!r}")
            return 1
        return value

    def seconds(self, *keys: str, default: float) -> float:
        key, value = self._get(*keys)
        if value is None:
            return default
        if isinstance(value, timedelta):
            value = value.total_seconds()
        if isinstance(value, str):
            value = _duration(value)
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            self._problem(key, f"must be a number of seconds > 0, not {value!r}")
            return default
        return float(value)

    def name(self) -> str | None:
        key, value = self._get("name")
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip() or len(value) > NAME_LIMIT:
            self._problem(key, f"must be a name of 1 to {NAME_LIMIT} characters, not {value!r}")
            return None
        return value

    def choice(self, *keys: str, allowed: tuple[str, ...]) -> str:
        key, value = self._get(*keys)
        if value is None:
            return allowed[0]
        if value not in allowed:
            self._problem(key, f"must be one of {', '.join(allowed)}, not {value!r}")
            return allowed[0]
        return str(value)

    def unknown(self) -> None:
        for key in sorted(set(self.raw) - self.read, key=str):
            expected = ", ".join(sorted(k for k in self.read if "_" not in k))
            self._problem(str(key), f"is not a key of this limit (expected: {expected})")


_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")


def _duration(text: str) -> float | str:
    """``"500ms"``, ``"10s"``, ``"5m"``, ``"1h"``, ``"1d"`` in seconds (else the text)."""
    match = _DURATION.match(text)
    return text if match is None else float(match[1]) * _UNITS[match[2]]


def for_action(
    own: Mapping[str, Any] | None, registered: StepLimits | None, action: str, step: str
) -> dict[str, Any]:
    """The keyword arguments of ``ctx.step`` for a definition's action step: its own limits
    (checked when the definition was), named ``step`` (``{workflow}/{step id}``: the step's
    alone) unless they name another, over those its action was registered with, named after
    the action unless they name another (every step of the action shares them). Empty when it
    has none."""
    mine = parse_limits(own)[0].named(step) if own else None
    theirs = None if registered is None else registered.named(action)
    found = theirs if mine is None else mine.over(theirs)
    if found is None or found.empty:
        return {}
    return {"rate_limit": found.rate_limit, "bulkhead": found.bulkhead,
            "circuit_breaker": found.circuit_breaker}  # fmt: skip


def parse_throttle(raw: Any) -> tuple[RateLimit | None, Problems]:
    """A workflow's ``rateLimit`` (runs started per period, per ``key``): the limit, and the
    problems found (paths like ``.limit``)."""
    problems: Problems = []
    found = _each(raw, RateLimit, "", _throttle, problems)
    return found, problems


def throttle_of(value: Any, workflow: str) -> RateLimit | None:
    """``@engine.workflow(rate_limit=...)`` checked (``ValueError`` listing every problem)."""
    if value is None:
        return None
    found, problems = parse_throttle(value)
    if problems:
        raise ValueError("; ".join(f"rate_limit{path}: {message}" for path, message in problems))
    assert found is not None
    return found if found.name else replace(found, name=workflow)


def _throttle(f: Fields) -> RateLimit:
    found = _rate_limit(f)
    key, value = f._get("key")
    if value is None:
        return found
    from plait.expressions import ExpressionError, compile_expression

    if not isinstance(value, str):
        f._problem(key, f"must be a CEL expression over the input (text), not {value!r}")
        return found
    try:
        compile_expression(value)
    except ExpressionError as exc:
        f._problem(key, f"must be a CEL expression over the input: {exc}")
        return found
    return replace(found, key=value)


def _rate_limit(f: Fields) -> RateLimit:
    return RateLimit(f.whole("limit"), f.seconds("period", default=1.0),
                     f.whole("burst", default=1), f.name())  # fmt: skip


def _bulkhead(f: Fields) -> Bulkhead:
    return Bulkhead(f.whole("limit"), f.name())


def _circuit(f: Fields) -> CircuitBreaker:
    on_open = f.choice("onOpen", "on_open", allowed=("fail", "wait"))
    return CircuitBreaker(f.whole("failures", default=5), f.seconds("window", default=60.0),
                          f.seconds("reset", default=30.0), "wait" if on_open == "wait" else "fail",
                          f.name())  # fmt: skip
