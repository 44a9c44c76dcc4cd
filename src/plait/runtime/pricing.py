"""A workflow's ``pricing`` (brief 003): the model, its validation, and the price of one run.

Two models, with the brief's formulas (see docs/costs.md):

- ``per-execution``: a charge per run, one of ``rate`` (with ``failureRefund``: charged
  instead of ``rate`` when the run failed or any step failed), ``baseRate``, or ``rates: {automated,
  humanReview}`` (``humanReview`` when the run went through a human task); plus
  ``stepRates[step]`` for each completed step (less ``parallelDiscount`` for a step that ran
  inside a parallel group); the volume tier (``discounts.volume``) holding the organization's
  priced runs of the month, this one included, multiplies the sum by ``1 - discount``.
- ``time-based``: run seconds (the time it executed: a resumed run's earlier executions plus
  the time from its latest resume, never the time it waited failed) times ``rate``, plus for
  each step its seconds times ``rate`` times ``stepMultipliers[step] - 1``, raised to
  ``minimum`` and capped at ``maximum``.

Amounts are ``decimal.Decimal``, never floats: a number is read as the decimal it is written
as (a JSON or YAML number through its shortest text, or a string such as ``"0.1"``), and no
amount is rounded. Durations are measured to the millisecond.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation, localcontext
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plait.store.costs import PricedRun
    from plait.store.records import StepRecord

CURRENCY = "USD"
"""The currency of a pricing that names none."""
MODELS = ("per-execution", "time-based")
STEP_KINDS = frozenset({"step", "task", "child-result", "group"})
"""Recorded kinds that are steps of a run for pricing: actions and code steps, human tasks,
child workflows (their result), parallel groups."""
MILLISECOND = Decimal("0.001")
PRECISION = 60
"""Digits of the arithmetic: far beyond any price, so that nothing is ever rounded (the store
sums costs with as many: ``plait.store.costs.PRECISION``)."""

_PER_EXECUTION = ("rate", "baseRate", "rates", "failureRefund", "stepRates",
                  "parallelDiscount", "discounts")  # fmt: skip
_TIME_BASED = ("rate", "stepMultipliers", "minimum", "maximum")
_COMMON = ("model", "currency")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_LOOP = re.compile(r"(\[\d+\])+$")
_UNBOUNDED = ("infinity", "inf", "+infinity", "+inf")

Problems = list[tuple[str, str]]


class InvalidPricing(ValueError):
    """A pricing model is invalid: ``problems`` lists each as ``(JSON path, message)``."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        super().__init__("invalid pricing: " + "; ".join(f"{p}: {m}" for p, m in problems))


@dataclass(frozen=True)
class Tier:
    """A volume tier: ``discount`` for the ``min``-th to the ``max``-th run of a month."""

    min: int
    max: int | None
    discount: Decimal

    def holds(self, volume: int) -> bool:
        return volume >= self.min and (self.max is None or volume <= self.max)


@dataclass(frozen=True)
class Pricing:
    """A workflow's pricing model, validated (``parse``)."""

    model: str
    currency: str = CURRENCY
    rate: Decimal | None = None
    base_rate: Decimal | None = None
    failure_refund: Decimal | None = None
    automated: Decimal | None = None
    human_review: Decimal | None = None
    step_rates: Mapping[str, Decimal] = field(default_factory=dict)
    parallel_discount: Decimal = Decimal(0)
    tiers: tuple[Tier, ...] = ()
    step_multipliers: Mapping[str, Decimal] = field(default_factory=dict)
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    parallel: frozenset[str] | None = None
    """Step ids inside a parallel group (a definition's, from its plan); None for code, whose
    steps count as parallel when their recorded run times overlap another step's."""

    def price(self, run: PricedRun) -> Charge:
        """The charge of ``run`` before its volume tier (``Charge.at`` applies it)."""
        steps = priced_steps(run.steps, self.parallel)
        with localcontext() as ctx:
            ctx.prec = PRECISION
            if self.model == "time-based":
                items = self._time_based(run, steps)
            else:
                items = self._per_execution(steps, run.status == "failed")
        return Charge(self.currency, tuple(items), self.tiers)

    def _per_execution(self, steps: Sequence[PricedStep], failed: bool) -> list[LineItem]:
        items = [self._charge(steps, failed)]
        keep = 1 - self.parallel_discount
        for step in steps:
            rate = self.step_rates.get(step.id)
            if rate is None or step.status != "completed":
                continue
            if step.parallel and self.parallel_discount:
                items.append(LineItem("step", rate * keep, name=step.id, step=step.key,
                                      rate=rate, discount=self.parallel_discount))  # fmt: skip
            else:
                items.append(LineItem("step", rate, name=step.id, step=step.key, rate=rate))
        return items

    def _charge(self, steps: Sequence[PricedStep], failed: bool) -> LineItem:
        """The per-run charge: ``failureRefund`` when the run failed (in a step or outside
        any: raised after its steps, missed its deadline) or any step failed."""
        if self.automated is not None and self.human_review is not None:
            reviewed = any(step.kind == "task" for step in steps)
            name, rate = ("humanReview", self.human_review) if reviewed else (
                "automated", self.automated)  # fmt: skip
        elif self.failure_refund is not None and (
            failed or any(s.status == "failed" for s in steps)
        ):
            name, rate = "failureRefund", self.failure_refund
        elif self.rate is not None:
            name, rate = "rate", self.rate
        else:
            name, rate = "baseRate", self.base_rate or Decimal(0)
        return LineItem("charge", rate, name=name, rate=rate)

    def _time_based(self, run: PricedRun, steps: Sequence[PricedStep]) -> list[LineItem]:
        rate = self.rate or Decimal(0)
        seconds = run.earlier + duration(run.started_at, run.finished_at)
        items = [LineItem("time", seconds * rate, name="run", quantity=seconds, rate=rate)]
        for step in steps:
            multiplier = self.step_multipliers.get(step.id)
            if multiplier is None or multiplier == 1 or step.seconds is None:
                continue
            extra = rate * (multiplier - 1)
            items.append(LineItem("step-time", step.seconds * extra, name=step.id,
                                  step=step.key, quantity=step.seconds, rate=extra))  # fmt: skip
        total = sum((item.amount for item in items), Decimal(0))
        if self.minimum is not None and total < self.minimum:
            items.append(LineItem("minimum", self.minimum - total, name="minimum"))
            total = self.minimum
        if self.maximum is not None and total > self.maximum:
            items.append(LineItem("maximum", self.maximum - total, name="maximum"))
        return items


@dataclass(frozen=True)
class LineItem:
    """One line of a run's cost: ``amount`` is what it adds (negative for a discount)."""

    kind: str
    """``charge`` (the per-run charge), ``step``, ``time``, ``step-time``, ``minimum``,
    ``maximum`` or ``volume``."""
    amount: Decimal
    name: str | None = None
    step: str | None = None
    quantity: Decimal | None = None
    rate: Decimal | None = None
    discount: Decimal | None = None

    def wire(self) -> dict[str, Any]:
        """The line as stored and shown (decimals as text)."""
        found: dict[str, Any] = {"kind": self.kind}
        for key in ("name", "step"):
            if getattr(self, key) is not None:
                found[key] = getattr(self, key)
        for key in ("quantity", "rate", "discount", "amount"):
            value = getattr(self, key)
            if value is not None:
                found[key] = text(value)
        return found


@dataclass(frozen=True)
class Charge:
    """A run's price before its volume tier."""

    currency: str
    items: tuple[LineItem, ...]
    tiers: tuple[Tier, ...] = ()

    def at(self, volume: int) -> tuple[Decimal, list[dict[str, Any]]]:
        """The total and the line items (as stored) of the ``volume``-th run of the month."""
        with localcontext() as ctx:
            ctx.prec = PRECISION
            subtotal = sum((item.amount for item in self.items), Decimal(0))
            items = list(self.items)
            tier = next((t for t in self.tiers if t.holds(volume)), None)
            if tier is not None and tier.discount:
                off = -(subtotal * tier.discount)
                limit = "" if tier.max is None else f"-{tier.max}"
                name = f"volume {tier.min}{limit}"
                items.append(LineItem("volume", off, name=name, quantity=Decimal(volume),
                                      discount=tier.discount))  # fmt: skip
                subtotal += off
        return subtotal, [item.wire() for item in items]


@dataclass(frozen=True)
class PricedStep:
    """A recorded step as pricing sees it."""

    key: str
    id: str
    """The step's id: its name without a loop's ``[i]`` (nor a child's ``.result``)."""
    kind: str
    status: str
    seconds: Decimal | None
    parallel: bool


def priced_steps(
    records: Iterable[StepRecord], parallel: frozenset[str] | None
) -> list[PricedStep]:
    """The steps of a run (``STEP_KINDS``), in order, with their ids, seconds and whether each
    ran inside a parallel group (``parallel``: those ids; None: its run time overlapped
    another step's)."""
    found = [r for r in records if r.kind in STEP_KINDS and r.position >= 0]
    overlapping = _overlapping(found) if parallel is None else set()
    steps = []
    for r in found:
        name = r.name.removesuffix(".result") if r.kind == "child-result" else r.name
        step_id = _LOOP.sub("", name)
        inside = r.key in overlapping if parallel is None else step_id in parallel
        seconds = None
        if r.started_at is not None and r.finished_at is not None:
            seconds = duration(r.started_at, r.finished_at)
        steps.append(PricedStep(r.key, step_id, r.kind, r.status, seconds, inside))
    return steps


def _overlapping(records: Sequence[StepRecord]) -> set[str]:
    """Keys of the steps whose ``[started_at, finished_at)`` overlaps another step's: in
    start order, a step overlaps an earlier one when the latest end so far is after its
    start, and a later one when the next start is before its end."""
    timed = sorted((r for r in records if r.started_at is not None and r.finished_at is not None),
                   key=lambda r: (r.started_at, r.finished_at))  # fmt: skip
    found: set[str] = set()
    latest: float | None = None
    for index, r in enumerate(timed):
        start, end = r.started_at, r.finished_at
        assert start is not None and end is not None
        after = timed[index + 1].started_at if index + 1 < len(timed) else None
        if (latest is not None and latest > start) or (after is not None and after < end):
            found.add(r.key)
        latest = end if latest is None else max(latest, end)
    return found


def duration(start: float | None, end: float | None) -> Decimal:
    """Seconds from ``start`` to ``end``, to the millisecond (0 when either is unknown)."""
    if start is None or end is None or end <= start:
        return Decimal(0)
    return Decimal(repr(end - start)).quantize(MILLISECOND)


def text(value: Decimal) -> str:
    """A decimal as plain text, without exponent or trailing zeros (``0.765``, ``100``)."""
    normal = value.normalize()
    return format(normal if normal != 0 else Decimal(0), "f")


# -- reading a pricing --------------------------------------------------------------------------


def parse(raw: Any, path: str = "$.pricing") -> Pricing:
    """Read a pricing document (the brief's camelCase keys); ``InvalidPricing`` lists every
    problem with its JSON path."""
    problems: Problems = []
    pricing = _read(raw, path, problems)
    if problems or pricing is None:
        raise InvalidPricing(problems or [(path, "expected a pricing object")])
    return pricing


def check(raw: Any, path: str = "$.pricing") -> Problems:
    """The problems of a pricing document (none: it is valid)."""
    problems: Problems = []
    _read(raw, path, problems)
    return problems


def _read(raw: Any, path: str, problems: Problems) -> Pricing | None:
    if isinstance(raw, Pricing):
        return raw
    if not isinstance(raw, Mapping):
        problems.append((path, "expected an object such as {model: per-execution, rate: 1.0}"))
        return None
    model = raw.get("model")
    if model not in MODELS:
        problems.append((f"{path}.model", f"expected one of {', '.join(MODELS)}, not {model!r}"))
        return None
    allowed = _COMMON + (_PER_EXECUTION if model == "per-execution" else _TIME_BASED)
    for key in raw:
        if key not in allowed:
            problems.append((f"{path}.{key}", f"not a key of {model} pricing; expected one of "
                             f"{', '.join(allowed)}"))  # fmt: skip
    reader = _Reader(raw, path, problems)
    currency = raw.get("currency", CURRENCY)
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        problems.append((f"{path}.currency", "expected a three-letter currency code such as USD"))
        currency = CURRENCY
    if model == "time-based":
        return _time_based(reader, currency)
    return _per_execution(reader, currency)


def _time_based(reader: _Reader, currency: str) -> Pricing:
    rate = reader.amount("rate", required=True)
    minimum, maximum = reader.amount("minimum"), reader.amount("maximum")
    if minimum is not None and maximum is not None and minimum > maximum:
        reader.problem("maximum", f"must be at least the minimum ({text(minimum)})")
    return Pricing("time-based", currency, rate=rate, minimum=minimum, maximum=maximum,
                   step_multipliers=reader.by_step("stepMultipliers"))  # fmt: skip


def _per_execution(reader: _Reader, currency: str) -> Pricing:
    given = [key for key in ("rate", "baseRate", "rates") if key in reader.raw]
    if len(given) != 1:
        what = "one of rate, baseRate or rates"
        reader.problem(None, f"expected {what}" + (f", not {' and '.join(given)}" if given
                                                    else ""))  # fmt: skip
    rates = reader.rates()
    refund = reader.amount("failureRefund")
    if refund is not None and "rate" not in reader.raw:
        reader.problem("failureRefund", "goes with rate (charged instead of it on failure)")
    discount = reader.fraction("parallelDiscount")
    return Pricing(
        "per-execution", currency, rate=reader.amount("rate"),
        base_rate=reader.amount("baseRate"), failure_refund=refund,
        automated=rates[0], human_review=rates[1], step_rates=reader.by_step("stepRates"),
        parallel_discount=discount or Decimal(0), tiers=reader.tiers(),
    )  # fmt: skip


@dataclass
class _Reader:
    raw: Mapping[str, Any]
    path: str
    problems: Problems

    def problem(self, key: str | None, message: str) -> None:
        self.problems.append((self.path if key is None else f"{self.path}.{key}", message))

    def amount(self, key: str, *, required: bool = False) -> Decimal | None:
        if key not in self.raw:
            if required:
                self.problem(key, "is required")
            return None
        return amount(self.raw[key], f"{self.path}.{key}", self.problems)

    def fraction(self, key: str) -> Decimal | None:
        value = self.amount(key)
        if value is not None and value > 1:
            self.problem(key, f"expected a fraction from 0 to 1, not {text(value)}")
            return None
        return value

    def by_step(self, key: str) -> dict[str, Decimal]:
        raw = self.raw.get(key)
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            self.problem(key, "expected an object of step ids to numbers")
            return {}
        found = {}
        for step, value in raw.items():
            number = amount(value, f"{self.path}.{key}.{step}", self.problems)
            if number is not None:
                found[str(step)] = number
        return found

    def rates(self) -> tuple[Decimal | None, Decimal | None]:
        raw = self.raw.get("rates")
        if raw is None:
            return None, None
        where = f"{self.path}.rates"
        if not isinstance(raw, Mapping):
            self.problems.append((where, "expected {automated, humanReview}"))
            return None, None
        sub = _Reader(raw, where, self.problems)
        for key in raw:
            if key not in ("automated", "humanReview"):
                sub.problem(key, "not a key of rates; expected automated and humanReview")
        return (sub.amount("automated", required=True),
                sub.amount("humanReview", required=True))  # fmt: skip

    def tiers(self) -> tuple[Tier, ...]:
        discounts = self.raw.get("discounts")
        if discounts is None:
            return ()
        where = f"{self.path}.discounts"
        if not isinstance(discounts, Mapping) or set(discounts) - {"volume"}:
            self.problems.append((where, "expected {volume: [{min, max, discount}, ...]}"))
            return ()
        raw = discounts.get("volume", [])
        if not isinstance(raw, list):
            self.problems.append((f"{where}.volume", "expected a list of {min, max, discount}"))
            return ()
        found = [_tier(item, f"{where}.volume[{i}]", self.problems) for i, item in enumerate(raw)]
        tiers = tuple(t for t in found if t is not None)
        _check_overlaps(tiers, f"{where}.volume", self.problems)
        return tiers


def _tier(raw: Any, path: str, problems: Problems) -> Tier | None:
    if not isinstance(raw, Mapping):
        problems.append((path, "expected {min, max, discount}"))
        return None
    reader = _Reader(raw, path, problems)
    for key in raw:
        if key not in ("min", "max", "discount"):
            reader.problem(key, "not a key of a volume tier; expected min, max and discount")
    low = _count(raw.get("min", 0), f"{path}.min", problems)
    high = None if _unbounded(raw.get("max")) else _count(raw["max"], f"{path}.max", problems)
    discount = reader.fraction("discount") if "discount" in raw else None
    if "discount" not in raw:
        reader.problem("discount", "is required")
    if low is not None and high is not None and high < low:
        reader.problem("max", f"must be at least min ({low})")
        return None
    if low is None or discount is None or (high is None and not _unbounded(raw.get("max"))):
        return None
    return Tier(low, high, discount)


def _check_overlaps(tiers: Sequence[Tier], path: str, problems: Problems) -> None:
    """Tiers may not share a count: the brief takes the first that holds it."""
    for index, tier in enumerate(tiers):
        for other in tiers[:index]:
            below = other.max is None or tier.min <= other.max
            above = tier.max is None or other.min <= tier.max
            if below and above:
                problems.append((f"{path}[{index}]", f"overlaps the tier from {other.min}"))
                break


def _unbounded(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return value == float("inf")
    return isinstance(value, str) and value.strip().lower() in _UNBOUNDED


def _count(value: Any, path: str, problems: Problems) -> int | None:
    number = amount(value, path, problems)
    if number is None:
        return None
    if number != number.to_integral_value():
        problems.append((path, f"expected a whole number of runs, not {text(number)}"))
        return None
    return int(number)


def amount(value: Any, path: str, problems: Problems) -> Decimal | None:
    """``value`` as a non-negative decimal, read as written (a float through its shortest
    text, so ``0.1`` is exactly one tenth); else a problem at ``path``."""
    number: Decimal | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            number = None
    if number is None or not number.is_finite():
        problems.append((path, f"expected a number, not {value!r}"))
        return None
    if number < 0:
        problems.append((path, f"must not be negative, not {text(number)}"))
        return None
    return number
