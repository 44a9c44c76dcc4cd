"""Costs (brief 003 pricing): what an organization's runs cost, per workflow and month.

Runs are priced by the store in the transaction that ends them (``plait.store.costs``, with
the workflow's ``plait.runtime.pricing.Pricing``); this service reads what was priced: one
run's cost (``of_run``, shown on the run resource) and the monthly totals (``summary``), which
the retention never prunes. See docs/costs.md.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from plait.errors import InvalidParameter
from plait.store.costs import month_of

if TYPE_CHECKING:
    from plait.resources.costs import CostSummary, RunCost
    from plait.service.deps import Deps

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
PERIOD = "$.query.period"


def period_of(period: str | None, now: float) -> tuple[str, str]:
    """The first and last month of ``period``: ``YYYY-MM`` (one month), ``YYYY-MM..YYYY-MM``
    (a range, both included), ``YYYY`` (a year); None: the current month (UTC).
    ``InvalidParameter`` otherwise."""
    if period is None or not period.strip():
        month = month_of(now)
        return month, month
    text = period.strip()
    if re.fullmatch(r"\d{4}", text):
        return f"{text}-01", f"{text}-12"
    first, dots, last = text.partition("..")
    if dots and not (first.strip() and last.strip()):
        raise InvalidParameter(PERIOD, f"{text!r} is an open range: name both months, "
                               "YYYY-MM..YYYY-MM")  # fmt: skip
    last = last or first
    for month in (first, last):
        if not _MONTH.match(month):
            raise InvalidParameter(PERIOD, f"{month!r} is not a month: use YYYY-MM, "
                                   "YYYY-MM..YYYY-MM or YYYY")  # fmt: skip
    if last < first:
        raise InvalidParameter(PERIOD, f"the range ends ({last}) before it starts ({first})")
    return first, last


class CostService:
    """Reading what runs cost (``engine.costs``)."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def summary(
        self, org: str, *, period: str | None = None, workflow: str | None = None
    ) -> CostSummary:
        """The costs of ``org`` in ``period`` (default: this month), of one workflow or all:
        each workflow's runs and total per month and currency, and the sums per currency."""
        first, last = period_of(period, self.deps.now())
        store = await self.deps.store()
        rows = await store.cost_totals(org, first, last, workflow or None)
        from plait.resources.costs import CostSummary

        return CostSummary.of(org, first, last, workflow or None, rows)

    async def of_run(self, run_id: str) -> RunCost | None:
        """What ``run_id`` cost (None: it was not priced). The caller checks the run's
        organization (``RunService.get``)."""
        store = await self.deps.store()
        record = await store.run_cost(run_id)
        if record is None:
            return None
        from plait.resources.costs import RunCost

        return RunCost.of(record)
