"""The REST API's application factory.

    app = create_app(engine)                 # serve it with any ASGI server
    app = create_app(engine, worker=True)    # `plait serve`: the API and a worker, one process

Routes parse the request, call the engine's services, and send back what they return; business
rules live in the service layer. Every error is a problem document (see ``plait.api.problems``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from plait import __version__
from plait.api import problems
from plait.api.middleware import BodyLimit, Guard, TextGuard, Traced
from plait.api.routes import (
    audit,
    circuits,
    costs,
    events,
    health,
    keys,
    machines,
    overview,
    query,
    retention,
    runs,
    schedules,
    secrets,
    step_cache,
    steps,
    streams,
    tasks,
    webhooks,
    workflow_metrics,
    workflow_tests,
    workflows,
)
from plait.engine import Engine
from plait.errors import DatabaseUnavailable

if TYPE_CHECKING:
    from plait.worker.worker import Worker

log = logging.getLogger(__name__)

RETRY_FIRST = 0.5
RETRY_MAX = 10.0
"""Backoff (seconds) of the startup retries while the database is unreachable."""

DESCRIPTION = """\
Durable workflows over HTTP. Every path under `/~{org}` needs `Authorization: Bearer <key>`
with a key of that organization (`plait keys create`), except receiving a webhook, which is
authenticated by its signature. Errors are `application/problem+json`.
"""


def create_app(
    engine: Engine,
    *,
    max_body_bytes: int | None = None,
    worker: bool = False,
    on_worker_death: Callable[[BaseException], None] | None = None,
    console: bool = True,
    mcp: bool = True,
) -> FastAPI:
    """The ASGI app of ``engine``.

    Args:
        engine: the engine whose services the API calls.
        max_body_bytes: larger request bodies are refused with 413 (default: the engine's
            ``max_request_bytes`` setting).
        worker: also run the engine's worker while the app runs (``plait serve``).
        on_worker_death: called with the error if that worker dies (a loop of it failed), so
            the server can stop rather than serve on with no worker (``plait serve`` exits 1).
        console: also serve the web console at ``/`` (``plait.console``).
        mcp: also serve MCP over streamable HTTP at ``/mcp`` (``plait.mcp``).

    On startup the app opens the engine's store (and starts its worker); on shutdown it closes
    the engine, which stops the worker gracefully. If the database is unreachable at startup the
    app serves anyway, answering 503 until it is back, and keeps trying to start in the
    background.
    """

    app = FastAPI(
        title="plait",
        version=__version__,
        description=DESCRIPTION,
        lifespan=_lifespan(engine, worker, on_worker_death),
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.served = []  # what the lifespan runs while the app serves (the MCP sessions)
    app.state.response_counts = Counter()
    modules = (workflows, workflow_tests, workflow_metrics, runs, events, webhooks, schedules,
               query, keys, health, tasks, machines, secrets, audit, streams, overview,
               circuits, steps, retention, costs, step_cache)  # fmt: skip
    routers = [m.router for m in modules] + [workflow_tests.drafts]
    for router in routers:
        app.include_router(router)
    if console:
        from plait.console import install

        routers += install(app, engine)
    if mcp:
        from plait.mcp.http import mount

        app.state.served.append(mount(app, engine))
    app.state.route_methods = [  # for the Allow header of 405 answers
        (route.path_regex, route.methods) for r in routers for route in r.routes
        if isinstance(route, APIRoute)
    ]  # fmt: skip
    problems.install(app)
    app.add_middleware(TextGuard, routes=[pattern for pattern, _ in app.state.route_methods])
    limit = engine.settings.max_request_bytes if max_body_bytes is None else max_body_bytes
    app.add_middleware(BodyLimit, max_bytes=limit)
    app.add_middleware(Guard, counts=app.state.response_counts)  # sees everything...
    app.add_middleware(Traced)  # ... but the request's span, which wraps it (a no-op untraced)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _lifespan(
    engine: Engine, worker: bool, on_worker_death: Callable[[BaseException], None] | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Open the store (and start the worker) on startup, close the engine on shutdown; if the
    database is unreachable, serve 503s and keep starting in the background."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        jobs: list[asyncio.Task[None]] = []
        start = functools.partial(_start, engine, worker, on_worker_death, jobs)
        try:
            await start()
        except DatabaseUnavailable as exc:
            log.warning("the database is unreachable (%s); serving 503 until it is back", exc)
            jobs.append(asyncio.create_task(_start_when_reachable(start)))
        try:
            async with AsyncExitStack() as served:
                for serving in app.state.served:
                    await served.enter_async_context(serving())
                yield
        finally:
            for job in jobs:
                job.cancel()
            await asyncio.gather(*jobs, return_exceptions=True)
            await engine.close()

    return lifespan


async def _start(
    engine: Engine,
    worker: bool,
    on_death: Callable[[BaseException], None] | None,
    jobs: list[asyncio.Task[None]],
) -> None:
    if not worker:
        await engine.health.check()  # opens (and migrates) the database
        return
    started = await engine.start_worker()
    if on_death is not None:
        jobs.append(asyncio.create_task(_watch(started, on_death), name="plait-worker-watch"))


async def _watch(worker: Worker, on_death: Callable[[BaseException], None]) -> None:
    """Tell ``on_death`` if the worker dies; return when it stops cleanly."""
    try:
        await worker.wait()
    except Exception as exc:
        log.error("the worker died (%s); stopping the server", exc)
        on_death(exc)


async def _start_when_reachable(start: Callable[[], Awaitable[None]]) -> None:
    """Retry the startup, with backoff, until the database answers."""
    delay = RETRY_FIRST
    while True:
        await asyncio.sleep(delay)
        try:
            await start()
        except DatabaseUnavailable as exc:
            delay = min(delay * 2, RETRY_MAX)
            log.info("the database is still unreachable (%s); retrying in %.1f s", exc, delay)
            continue
        except Exception:  # e.g. a read-only standby after a failover: keep trying, loudly
            delay = min(delay * 2, RETRY_MAX)
            log.exception("starting on the database failed; retrying in %.1f s", delay)
            continue
        log.info("the database is reachable again; started")
        return


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with the problem schema that every error response refers to."""
    if app.openapi_schema is None:
        document = get_openapi(title=app.title, version=app.version,
                               description=app.description, routes=app.routes)  # fmt: skip
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        problem = problems.Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(problem.pop("$defs", {}))
        schemas["Problem"] = problem
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        app.openapi_schema = document
    return app.openapi_schema
