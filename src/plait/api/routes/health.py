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
async def metrics(request: Request, engine: EngineDep) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST

    body = await engine.health.metrics(request.app.state.response_counts)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
