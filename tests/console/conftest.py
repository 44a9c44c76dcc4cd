"""The console in process: the app of ``plait serve`` on a real database of each backend, keys of
every role for two organizations, and browser-like clients (cookies kept, forms posted with the
page's CSRF token) signed in with a key."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from plait import Engine
from plait.api import create_app
from plait.resources.keys import ROLES
from tests.api.conftest import ORGS, Keys
from tests.backends import BACKENDS, database_url

BASE = "http://plait.test"
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
_LOGIN_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Browser:
    """An HTTP client that behaves as a browser signed in to the console: it keeps cookies and
    posts forms with the CSRF token of the last page it loaded."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.csrf = ""

    async def sign_in(self, key: str, next: str = "/") -> httpx.Response:
        form = await self.client.get("/login")
        found = _LOGIN_CSRF.search(form.text)
        assert found, form.text
        return await self.client.post("/login", data={"key": key, "csrf": found.group(1),
                                                      "next": next})  # fmt: skip

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.client.get(path, **kwargs)
        found = _CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    async def post(self, path: str, data: dict[str, Any] | None = None,
                   **kwargs: Any) -> httpx.Response:  # fmt: skip
        """Post a form as the page would (its CSRF token included; load a page first)."""
        if not self.csrf:
            await self.get("/login")  # a signed-in session is redirected to a page with it
        fields = {"csrf": self.csrf, **(data or {})}
        return await self.client.post(path, data=fields, **kwargs)


@pytest.fixture(params=BACKENDS)
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Engine]:
    with database_url(request.param, tmp_path, sqlite_name="console.db") as url:
        engine = Engine(url)
        try:
            yield engine
        finally:
            await engine.close()


@pytest.fixture
async def app(engine: Engine) -> AsyncIterator[FastAPI]:
    app = create_app(engine)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def keys(app: FastAPI, engine: Engine) -> Keys:
    by_org = {org: {role: (await engine.keys.create(org, role)).key for role in ROLES}
              for org in ORGS}  # fmt: skip
    return Keys(by_org)


BrowserFactory = Callable[..., Coroutine[Any, Any, Browser]]


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[BrowserFactory]:
    """``await browser("acme", "viewer")`` (or ``await browser(key=...)``): a client signed in
    with that key; ``await browser()``: one not signed in."""
    clients: list[httpx.AsyncClient] = []
    keys_of: dict[str, dict[str, str]] = {}

    async def make(org: str | None = None, role: str | None = None,
                   key: str | None = None) -> Browser:  # fmt: skip
        transport = httpx.ASGITransport(app=app)
        client = httpx.AsyncClient(transport=transport, base_url=BASE, follow_redirects=True)
        clients.append(client)
        made = Browser(client)
        if org is not None and role is not None:
            if org not in keys_of:
                keys_of[org] = {}
            if role not in keys_of[org]:
                engine: Engine = app.state.engine
                keys_of[org][role] = (await engine.keys.create(org, role)).key
            key = keys_of[org][role]
        if key is not None:
            signed = await made.sign_in(key)
            assert signed.status_code == 200, signed.text
            found = _CSRF.search(signed.text)
            made.csrf = found.group(1) if found else ""
        return made

    yield make
    for client in clients:
        await client.aclose()
