"""Costs as every interface shows them: a run's cost (its line items and total) and an
organization's costs per workflow and month. Amounts are exact decimals written as strings
(``"0.765"``), so that no interface rounds them through a float."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING, Any

from pydantic import Field

from plait.resources.base import Resource, Stamp, required_stamp

if TYPE_CHECKING:
    from plait.store.costs import CostTotal as CostTotalRecord
    from plait.store.costs import RunCost as RunCostRecord


class CostLineItem(Resource):
    """One line of a run's cost: what it is, and what it adds (``amount``; negative for a
    discount or a cap)."""

    kind: str = Field(
        description="charge (the per-run charge), step (a step rate), time (run seconds), "
        "step-time (a step multiplier), minimum, maximum, or volume (the volume tier)."
    )
    name: str | None = Field(None, description="The rate's name, or the step's id.")
    step: str | None = Field(None, description="The key of the step it prices (step lines).")
    quantity: str | None = Field(
        None, description="Seconds (time lines), or the run's place in the month (volume)."
    )
    rate: str | None = None
    discount: str | None = Field(
        None, description="The fraction taken off: parallelDiscount, or the volume tier's."
    )
    amount: str

    @classmethod
    def of(cls, item: dict[str, Any]) -> CostLineItem:
        return cls.model_validate(item)


class RunCost(Resource):
    """What a run cost, priced once when it ended by its workflow's pricing."""

    currency: str
    total: str
    line_items: list[CostLineItem]
    month: str = Field(description="YYYY-MM (UTC) of the month it counts in.")
    volume: int = Field(description="Its place among the organization's priced runs of the month.")
    priced_at: Stamp

    @classmethod
    def of(cls, r: RunCostRecord) -> RunCost:
        return cls(currency=r.currency, total=_text(r.total),
                   line_items=[CostLineItem.of(i) for i in r.items], month=r.month,
                   volume=r.volume, priced_at=required_stamp(r.priced_at))  # fmt: skip


class CostTotal(Resource):
    """The priced runs of one workflow in one month and currency, and their total."""

    month: str
    workflow: str
    currency: str
    runs: int
    total: str


class CostSummary(Resource):
    """An organization's costs from month ``from`` to ``to`` (one workflow's, or all):
    each workflow's per month and currency, and the sums per currency."""

    organization: str
    from_: str = Field(alias="from", description="The first month, YYYY-MM.")
    to: str = Field(description="The last month, YYYY-MM.")
    workflow: str | None = None
    runs: int = Field(description="Priced runs in the period.")
    totals: dict[str, str] = Field(description="Currency to the period's total.")
    items: list[CostTotal]

    @classmethod
    def of(
        cls, org: str, first: str, last: str, workflow: str | None,
        rows: Sequence[CostTotalRecord],
    ) -> CostSummary:  # fmt: skip
        sums: dict[str, Decimal] = {}
        with localcontext(prec=60):  # exact: as the store sums them
            for row in rows:
                sums[row.currency] = sums.get(row.currency, Decimal(0)) + row.total
        items = [CostTotal(month=r.month, workflow=r.workflow, currency=r.currency, runs=r.runs,
                           total=_text(r.total)) for r in rows if r.runs or r.total]  # fmt: skip
        return cls(organization=org, from_=first, to=last, workflow=workflow,
                   runs=sum(r.runs for r in rows),
                   totals={c: _text(t) for c, t in sorted(sums.items())}, items=items)  # fmt: skip


def _text(value: Decimal) -> str:
    normal = value.normalize()
    return format(normal if normal != 0 else Decimal(0), "f")
