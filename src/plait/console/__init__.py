"""The web console, served by ``plait serve`` at ``/`` beside the REST API.

Server-rendered pages (Jinja2), a little htmx and a small script shipped in the package, live
updates by Server-Sent Events, charts drawn as SVG on the server: nothing to build at install
time and nothing fetched at run time (``docs/console.md`` says why). Pages call the same services
as the REST API and render the same resources; sessions come from API keys
(:mod:`plait.console.session`).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from starlette.staticfiles import StaticFiles

from plait.console.session import Sessions
from plait.engine import Engine

STATIC = "/static"


def install(app: FastAPI, engine: Engine) -> list[APIRouter]:
    """Add the console's pages and its static files to ``app``; the routers added are
    returned (the API lists their paths for its 405 answers)."""
    from plait.console.pages import PAGES

    app.state.console_sessions = Sessions(engine)
    app.mount(STATIC, StaticFiles(packages=[("plait.console", "static")]), name="static")
    routers = [module.router for module in PAGES]
    for router in routers:
        app.include_router(router)
    return list(routers)
