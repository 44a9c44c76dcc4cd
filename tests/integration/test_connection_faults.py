"""PostgreSQL connection faults seen by the API: the network to the database is cut under a
serving app (every connection dropped, new ones refused), requests get 503 problem documents at
once, and once the database is back they succeed again; ``plait serve`` started while the
database is down serves 503 and comes up by itself when it appears."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from plait import Engine
from plait.api import create_app
from plait.errors import DatabaseUnavailable
from plait.settings import Settings
from plait.store.records import NewRun
from plait.store.urls import open_store
from plait.testing import assert_eventually
from tests.backends import database_url
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres

# An answer while the database is unreachable must not wait out a connection timeout.
QUICK = 1.5
# How long a recovered database may take to be noticed (the pool reconnects with backoff).
RECOVERY = 20.0


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    with database_url("postgres", tmp_path) as url:
        yield url


@pytest.fixture
def proxy(pg_url: str) -> Iterator[TcpProxy]:
    parts = urlsplit(pg_url)
    proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.fixture
async def served(proxy: TcpProxy, pg_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A client of an app whose engine reaches the database through ``proxy``; an admin key."""
    proxy.restore()
    engine = Engine(proxy.url(pg_url))
    app: FastAPI = create_app(engine)
    async with app.router.lifespan_context(app):
        key = (await engine.keys.create("acme", "admin")).key
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://plait") as client:
            yield client, key


async def timed(client: httpx.AsyncClient, method: str, path: str, **kw: object) -> tuple[
    httpx.Response, float
]:  # fmt: skip
    began = time.monotonic()
    answer = await client.request(method, path, **kw)  # type: ignore[arg-type]
    return answer, time.monotonic() - began


async def test_requests_get_503_while_the_database_is_cut_off_and_succeed_after(
    served: tuple[httpx.AsyncClient, str], proxy: TcpProxy
) -> None:
    client, key = served
    auth = {"Authorization": f"Bearer {key}"}
    event = {"type": "Customer.created", "data": {"name": "Ada"}}
    assert (await client.get("/~acme/workflows", headers=auth)).status_code == 200

    proxy.cut()

    answers = []
    for _ in range(2):  # the first meets the dropped connections, the second knows
        for method, path, body in (("GET", "/healthz", None), ("GET", "/~acme/workflows", None),
                                   ("POST", "/~acme/events", event)):  # fmt: skip
            answers.append((path, *await timed(client, method, path, headers=auth, json=body)))
    for path, answer, _ in answers:
        assert answer.status_code == 503, (path, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["retry-after"] == "2"
        assert answer.json()["type"] == "urn:plait:problem:unavailable"
        assert "Traceback" not in answer.text
    assert max(took for _, _, took in answers[3:]) < QUICK, answers
    assert max(took for _, _, took in answers[:3]) < 2 * QUICK, answers

    proxy.restore()

    async def recovered() -> bool:
        health = await client.get("/healthz")
        listed = await client.get("/~acme/workflows", headers=auth)
        emitted = await client.post("/~acme/events", headers=auth, json=event)
        seen.append([a.status_code for a in (health, listed, emitted)])
        return seen[-1] == [200, 200, 202]

    seen: list[list[int]] = []

    try:
        await assert_eventually(recovered, timeout=RECOVERY, interval=0.2)
    except AssertionError as exc:
        raise AssertionError(f"no recovery: the last answers were {seen[-3:]}") from exc


async def test_the_first_write_after_an_outage_reconnects(pg_url: str, proxy: TcpProxy) -> None:
    """A read noticed the outage, and the writer's connection went stale meanwhile: once the
    database is back, the first write reconnects instead of failing fast as if it were down."""
    proxy.restore()
    store = open_store(Settings.load(database_url=proxy.url(pg_url)))
    await store.open()
    try:
        await store.create_run(NewRun("run_before", "w", b"[]", 1.0))
        proxy.cut()
        with pytest.raises(DatabaseUnavailable):
            await store.get_run("run_before")
        proxy.restore()  # reachable again, and nothing has found out yet
        _, created = await store.create_run(NewRun("run_after", "w", b"[]", 2.0))
        assert created
    finally:
        await store.close()


# -- plait serve without a database ---------------------------------------------------------


def status(base: str, path: str, key: str | None = None) -> int | None:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        return httpx.get(f"{base}{path}", headers=headers, timeout=5.0).status_code
    except httpx.TransportError:
        return None


def wait_for(check: object, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_serve_started_while_the_database_is_down_answers_503_then_recovers(
    proxy: TcpProxy, pg_url: str, tmp_path: Path
) -> None:
    from tests.api.conftest import PLAIT, env_without_plait, free_port

    url = proxy.url(pg_url)  # nothing listens there yet
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "serve.log").open("wb")
    child = subprocess.Popen(
        [*PLAIT, "serve", "--port", str(port), "--db", url],
        stdout=log, stderr=subprocess.STDOUT, env=env_without_plait(), cwd=tmp_path,
    )  # fmt: skip
    try:
        wait_for(lambda: status(base, "/healthz") is not None, "the server to listen", 30)
        assert child.poll() is None
        down = httpx.get(f"{base}/healthz", timeout=5.0)
        assert down.status_code == 503 and down.json()["database"] == "unreachable"
        assert status(base, "/~acme/workflows", "plait_acme_nokey") == 503

        proxy.restore()
        made = subprocess.run(
            [*PLAIT, "keys", "create", "--org", "acme", "--role", "admin", "--json", "--db", url],
            capture_output=True, env=env_without_plait(), cwd=tmp_path, timeout=60, check=True,
        )  # fmt: skip
        key = json.loads(made.stdout)["key"]
        wait_for(lambda: status(base, "/healthz") == 200, "the server to recover", RECOVERY)
        assert status(base, "/~acme/workflows", key) == 200
        output = (tmp_path / "serve.log").read_text()
        assert "serving 503 until it is back" in output
        assert re.search(r"worker worker_\w+ started", output), output  # once it came back
        assert "Traceback" not in output, output
    finally:
        child.terminate()
        child.wait(timeout=30)
        log.close()
    assert child.returncode == 0, (tmp_path / "serve.log").read_text()
