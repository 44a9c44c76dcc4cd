"""Costs: what each priced run cost, and the monthly totals per organization, workflow and
currency (migration 024).

A run of a workflow with a pricing is priced in the transaction that ends it
(``LeaseVerbs.finish_run`` with a ``pricer``): the operation reads the run's recorded steps and
asks the pricer for its charge (``price_run``); just before COMMIT, with the workflow counters
(``plait.store.counters``), the charges of the transaction are applied (``apply_costs``): each
organization's month count (``cost_months``, the volume a tier reads) moves once per
organization and month, in key order, so that concurrent transactions lock those rows in one
order and each run gets its exact place in the month; then each run's cost is written and the
totals (``cost_totals``) move once per key, in key order. A run priced again (a failed run
resumed, ending again) keeps its month and place: its new cost replaces the old one and the
totals move by the difference, so a run is counted once.

A run without a pricer costs nothing here: no read, no write.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from itertools import groupby
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from plait.store.backend import Backend
from plait.store.records import StepRecord

if TYPE_CHECKING:
    from plait.store.session import Session


PRECISION = 60
"""Digits of the sums of costs (``plait.runtime.pricing.PRECISION``): never rounded."""


@dataclass(frozen=True, slots=True)
class PricedRun:
    """What a pricer reads of a run that ends: its steps as recorded, and its run time."""

    run_id: str
    org: str
    workflow: str
    started_at: float
    """When its latest execution began: when it was last resumed, else when a worker first
    started it (its creation if it never was)."""
    finished_at: float
    steps: list[StepRecord]
    earlier: Decimal = Decimal(0)
    """Seconds it executed before ``started_at``, in the executions that ended before its
    latest resume (the run time it was last priced with); the time it spent failed, waiting
    for the resume, is not among them."""
    status: str = "succeeded"
    """How it ended: ``succeeded`` or ``failed`` (a failure outside any step too)."""


class Charge(Protocol):
    """A run's price before its volume tier."""

    currency: str

    def at(self, volume: int) -> tuple[Decimal, list[dict[str, Any]]]:
        """The total and the line items of the ``volume``-th priced run of the month."""
        ...


class Pricer(Protocol):
    """Prices a run that ends (``plait.runtime.pricing.Pricing``)."""

    def price(self, run: PricedRun) -> Charge: ...


@dataclass(frozen=True, slots=True)
class RunCost:
    """What a run cost: ``items`` are its line items (decimals as text)."""

    run_id: str
    currency: str
    total: Decimal
    items: list[dict[str, Any]]
    month: str
    """``YYYY-MM`` (UTC) of when it was first priced."""
    volume: int
    """Its place among the organization's priced runs of that month."""
    priced_at: float
    previous: Decimal | None = None
    """Its former total when it was priced again (a resumed run); else None."""


@dataclass(frozen=True, slots=True)
class CostTotal:
    """The priced runs of one workflow in one month and currency, and what they cost."""

    month: str
    workflow: str
    currency: str
    runs: int
    total: Decimal


@dataclass(slots=True)
class PendingCost:
    """A run priced in the write transaction in progress; ``cost`` is set before COMMIT."""

    run: PricedRun
    charge: Charge
    month: str
    previous: tuple[str, int, str, Decimal] | None
    """The run's month, place, currency and total when it was priced before."""
    cost: RunCost | None = field(default=None)


class CostVerbs(Backend):
    """Reading runs' costs and the monthly totals."""

    async def run_cost(self, run_id: str) -> RunCost | None:
        """The cost of ``run_id``, or None (not priced)."""
        row = await self._one("run_cost", {"run_id": run_id})
        if row is None:
            return None
        currency, total, items, month, volume, priced_at = row
        return RunCost(run_id, currency, Decimal(str(total)), orjson.loads(items), month,
                       int(volume), priced_at)  # fmt: skip

    async def cost_totals(
        self, org: str, first: str, last: str, workflow: str | None = None
    ) -> list[CostTotal]:
        """The totals of ``org`` from month ``first`` to ``last`` (``YYYY-MM``, inclusive),
        of one workflow or all, by month, workflow and currency."""
        params = {"org": org, "first": first, "last": last, "workflow": workflow or ""}
        rows = await self._all("cost_totals", params)
        return [CostTotal(m, w, c, int(n), Decimal(str(t))) for m, w, c, n, t in rows]


def month_of(moment: float) -> str:
    """``YYYY-MM`` of ``moment`` in UTC."""
    return datetime.datetime.fromtimestamp(moment, datetime.UTC).strftime("%Y-%m")


# -- inside the write transaction of a run's end ------------------------------------------------


def price_run(db: Session, run_id: str, pricer: Pricer, now: float) -> PendingCost | None:
    """Price ``run_id``, ending now, with ``pricer`` (applied before COMMIT: ``apply_costs``)."""
    row = db.run("priced_run", {"run_id": run_id}).fetchone()
    if row is None:
        return None
    org, workflow, created_at, started_at, status, resumed_at = row
    steps = [StepRecord(key, position, name, kind, status, attempts, started_at=began,
                        finished_at=ended)
             for key, position, name, kind, status, attempts, began, ended
             in db.run("priced_steps", {"run_id": run_id})]  # fmt: skip
    before = db.run("run_cost_ref", {"run_id": run_id}).fetchone()
    began = started_at or created_at
    earlier = Decimal(0)
    if resumed_at is not None:  # charged from the resume on, plus what it ran before
        began = max(began, float(resumed_at))
        earlier = _run_seconds(before[4]) if before is not None else Decimal(0)
    run = PricedRun(run_id, org, workflow, began, now, steps, earlier, status)
    charge = pricer.price(run)
    previous = None
    if before is not None:
        previous = (before[0], int(before[1]), before[2], Decimal(str(before[3])))
    pending = PendingCost(run, charge, month_of(now), previous)
    db.counters.priced(pending)
    return pending


def _run_seconds(items: str | bytes) -> Decimal:
    """The run seconds of a stored cost's ``time`` line (0 when it has none: its pricing was
    not time-based then)."""
    for item in orjson.loads(items):
        if item.get("kind") == "time" and item.get("name") == "run" and "quantity" in item:
            return Decimal(str(item["quantity"]))
    return Decimal(0)


def apply_costs(db: Session, pending: list[PendingCost]) -> None:
    """Write the costs of the runs priced in this transaction and move the totals (with the
    digits of pricing's arithmetic: a sum is never rounded)."""
    with localcontext(prec=PRECISION):
        _apply(db, pending)


def _apply(db: Session, pending: list[PendingCost]) -> None:
    places = _places(db, [p for p in pending if p.previous is None])
    totals: dict[tuple[str, str, str, str], list[Any]] = {}
    for p in sorted(pending, key=lambda p: p.run.run_id):
        month, volume = (p.previous[0], p.previous[1]) if p.previous else (p.month, places[id(p)])
        total, items = p.charge.at(volume)
        before = None if p.previous is None else p.previous[3]
        cost = RunCost(p.run.run_id, p.charge.currency, total, items, month, volume,
                       p.run.finished_at, before)  # fmt: skip
        db.run("put_run_cost", {
            "run_id": cost.run_id, "org": p.run.org, "workflow": p.run.workflow,
            "month": month, "volume": volume, "currency": cost.currency,
            "total": _text(total), "items": orjson.dumps(items).decode(),
            "priced_at": cost.priced_at,
        })  # fmt: skip
        _add(totals, (p.run.org, month, p.run.workflow, cost.currency), 1, total)
        if p.previous is not None:
            _add(totals, (p.run.org, month, p.run.workflow, p.previous[2]), -1, -p.previous[3])
        p.cost = cost
    for key in sorted(totals):
        runs, total = totals[key]
        if runs or total:
            _add_total(db, key, runs, total)


def _places(db: Session, new: list[PendingCost]) -> dict[int, int]:
    """Each new run's place in its organization's month (``cost_months``, once per key)."""
    places: dict[int, int] = {}
    ordered = sorted(new, key=lambda p: (p.run.org, p.month, p.run.run_id))
    for (org, month), group in groupby(ordered, key=lambda p: (p.run.org, p.month)):
        runs = list(group)
        params = {"org": org, "month": month, "runs": len(runs)}
        last = int(db.run("add_cost_month", params).fetchone()[0])
        for index, p in enumerate(runs):
            places[id(p)] = last - len(runs) + index + 1
    return places


def _add(totals: dict[tuple[str, str, str, str], list[Any]], key: tuple[str, str, str, str],
         runs: int, total: Decimal) -> None:  # fmt: skip
    entry = totals.setdefault(key, [0, Decimal(0)])
    entry[0] += runs
    entry[1] += total


def _add_total(db: Session, key: tuple[str, str, str, str], runs: int, total: Decimal) -> None:
    org, month, workflow, currency = key
    params: dict[str, Any] = {"org": org, "month": month, "workflow": workflow,
                              "currency": currency, "runs": runs}  # fmt: skip
    if db.dialect == "postgres":
        db.run("add_cost_total", {**params, "total": _text(total)})
        return
    row = db.run("cost_total_of", params).fetchone()
    if row is not None:
        params["runs"] = int(row[0]) + runs
        total += Decimal(str(row[1]))
    db.run("put_cost_total", {**params, "total": _text(total)})


def _text(value: Decimal) -> str:
    normal = value.normalize()
    return format(normal if normal != 0 else Decimal(0), "f")
