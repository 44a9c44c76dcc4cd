"""The overview: how each workflow is doing over the last hour and day (``engine.overview``,
the figures of ``GET /~{org}/overview``), with charts of the organization's runs per minute and
failures per hour, and every number a link to the runs it counts."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlencode

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from plait.console.charts import Series, bars, spark
from plait.console.render import iso, page
from plait.console.web import Engined, Signed, console_router
from plait.resources.overview import Overview

router = console_router()


@router.get("/")
async def overview(request: Request, session: Signed, engine: Engined) -> Response:
    found = await engine.overview.get(session.org)
    return page(request, "overview.html", session, section="overview", overview=found,
                charts=_charts(found), runs_link=runs_link, spark=spark,
                hour_ago=iso(found.at - timedelta(hours=1)),
                day_ago=iso(found.at - timedelta(days=1)))  # fmt: skip


def runs_link(**filters: str | None) -> str:
    """The runs page filtered by ``filters`` (``workflow``, ``status``, ``outcome``, ``from``
    ...; ``from_`` for ``from``), those given only."""
    given = {k.rstrip("_"): v for k, v in filters.items() if v}
    return "/runs" + (f"?{urlencode(given)}" if given else "")


def _charts(found: Overview) -> dict[str, Markup]:
    minutes = [_clock(s.start) for s in found.minutes]
    per_minute = bars(
        "Runs ended per minute, last 60 minutes: succeeded and failed, stacked",
        [Series("succeeded", "bar-ok", [s.succeeded for s in found.minutes]),
         Series("failed", "bar-bad", [s.failed for s in found.minutes]),
         Series("cancelled", "bar-idle", [s.cancelled for s in found.minutes])],
        minutes,
    )  # fmt: skip
    start = found.at - timedelta(days=1)
    hours = [_clock(start + timedelta(hours=i)) for i in range(24)]
    failures = bars("Failed runs per hour, last 24 hours",
                    [Series("failed", "bar-bad", found.failures_by_hour)], hours,
                    every=6)  # fmt: skip
    return {"minutes": per_minute, "failures": failures}


def _clock(at: datetime) -> str:
    return at.strftime("%H:%M UTC")
