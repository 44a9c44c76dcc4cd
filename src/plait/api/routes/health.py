"""``/healthz`` and ``/metrics``: for load balancers and Prometheus (no API key)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from starlette.responses import PlainTextResponse, Response

from plait.api.auth import EngineDep
from plait.api.problems import problem
from plait.api.render import Json
from plait.errors import DatabaseUnavailable
from plait.resources.health import Health
from plait.service.health import COUNTERS

log = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness and database check")
async def healthz(engine: EngineDep) -> Response:
    try:
        health = await engine.health.check()
    except DatabaseUnavailable as exc:
        log.warning("health check: %s", exc)
        return problem(503, "The database is unreachable; retry shortly.", database="unreachable",
                       headers={"Retry-After": "2"})  # fmt: skip
    except Exception:
        log.exception("health check: the database is unusable")
        return problem(503, "The database is unusable; the error is logged.", database="error")
    return Json(health.wire())


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
async def metrics(request: Request, engine: EngineDep) -> PlainTextResponse:
    lines = [
        "# HELP plait_http_responses_total HTTP responses by method and status.",
        "# TYPE plait_http_responses_total counter",
    ]
    for (method, status), count in sorted(request.app.state.response_counts.items()):
        lines.append(f'plait_http_responses_total{{method="{method}",status="{status}"}} {count}')
    counters = await engine.health.counters()
    for name in COUNTERS:
        value = getattr(counters, name)
        if value is None:
            continue
        lines += [f"# HELP plait_store_{name}_total Group-committed {COUNTERS[name]}.",
                  f"# TYPE plait_store_{name}_total counter",
                  f"plait_store_{name}_total {value}"]  # fmt: skip
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")
