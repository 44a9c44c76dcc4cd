"""The REST API in process: an app on a real database of each backend (a SQLite file, and a fresh
PostgreSQL schema when ``PLAIT_TEST_POSTGRES_URL`` is set), an HTTP client, and keys of every
role for two organizations (``acme`` and ``globex``)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from plait import Engine
from plait.api import create_app
from plait.resources.keys import ROLES
from tests.backends import BACKENDS, database_url

ORGS = ("acme", "globex")

WELCOME: dict[str, Any] = {
    "name": "Welcome customer",
    "triggerEvent": "Customer.created",
    "steps": [{"action": "Activity.create",
               "mapping": {"subject": "'Welcome ' + customer.name", "customer": "customer.$id"}}],
}  # fmt: skip


@dataclass(frozen=True)
class Keys:
    """``keys["acme"]["editor"]`` is an editor key of acme."""

    by_org: dict[str, dict[str, str]]

    def __getitem__(self, org: str) -> dict[str, str]:
        return self.by_org[org]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# Tests that look at the SQLite file itself, by name and why.
@pytest.fixture(params=BACKENDS)
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Engine]:
    """An engine on a fresh database of each backend (SQLite: ``api.db`` in ``tmp_path``)."""
    with database_url(request.param, tmp_path, sqlite_name="api.db") as url:
        engine = Engine(url)
        try:
            yield engine
        finally:
            await engine.close()  # before its PostgreSQL schema is dropped


@pytest.fixture
async def app(engine: Engine) -> AsyncIterator[FastAPI]:
    app = create_app(engine, max_body_bytes=64 * 1024)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def keys(app: FastAPI, engine: Engine) -> Keys:
    by_org: dict[str, dict[str, str]] = {
        org: {role: (await engine.keys.create(org, role)).key for role in ROLES} for org in ORGS
    }
    return Keys(by_org)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://plait.test") as client:
        yield client


@pytest.fixture
def admin(keys: Keys) -> dict[str, str]:
    """Headers with acme's admin key."""
    return bearer(keys["acme"]["admin"])


# -- a real server (plait serve in a subprocess) ------------------------------------------

PLAIT = (sys.executable, "-m", "plait")
DEADLINE = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def env_without_plait() -> dict[str, str]:
    """The environment without plait's settings, but with the session's sealing key."""
    kept = ("PLAIT_SECRET_KEY",)
    return {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_") or k in kept}


def wait_until(check: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    """Poll ``check`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, str]]:
    db = f"sqlite:///{tmp_path / 'serve.db'}"
    made = subprocess.run(
        [*PLAIT, "keys", "create", "--org", "acme", "--role", "admin", "--json", "--db", db],
        capture_output=True, env=env_without_plait(), cwd=tmp_path, check=True,
        timeout=DEADLINE,
    )  # fmt: skip
    key = json.loads(made.stdout)["key"]
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    child = subprocess.Popen(
        [*PLAIT, "serve", "--port", str(port), "--db", db],
        stdout=log, stderr=subprocess.STDOUT, env=env_without_plait(), cwd=tmp_path,
    )  # fmt: skip
    try:
        yield child, f"http://127.0.0.1:{port}", key
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=DEADLINE)
        log.close()


def up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200
    except httpx.TransportError:
        return False
