"""Live streams across processes: ``plait serve`` streams a run that a ``plait worker`` in
another process moves, on each backend. On PostgreSQL the server's poll of the change feed is
set to a minute, so only its LISTEN on ``plait_changes`` can deliver the changes in time; on
SQLite the poll brings them. Stopping the server ends its open streams with ``event: close``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import free_port
from tests.api.sse import Message, iter_messages
from tests.backends import BACKENDS, database_url

from .apps import streamed
from .conftest import DEADLINE, PLAIT, Sandbox

pytestmark = pytest.mark.timeout(120)

RELAY = [
    ("run", "pending"), ("run", "running"), ("step", "first", "completed"),
    ("step", "receive:go", "waiting"), ("run", "waiting"), ("step", "receive:go", "completed"),
    ("run", "pending"), ("run", "running"), ("step", "second", "completed"),
    ("run", "succeeded"), ("end",),
]  # fmt: skip
SIGNAL_TO_END = 20.0
"""Seconds from the signal to the run's end on the stream: a third of the PostgreSQL poll."""


@pytest.fixture(params=BACKENDS)
def box(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sandbox]:
    with database_url(request.param, tmp_path, sqlite_name="test.db") as url:
        sandbox = Sandbox(tmp_path)
        sandbox.db_url = url
        try:
            yield sandbox
        finally:
            sandbox.close()


def up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200
    except httpx.TransportError:
        return False


def test_plait_serve_streams_a_run_that_a_worker_process_moves(box: Sandbox) -> None:
    postgres = box.db_url.startswith("postgresql")
    made = box.cli("keys", "create", "--org", "default", "--role", "viewer", "--json")
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)["key"]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"PLAIT_STREAM_POLL_SECONDS": "60" if postgres else "0.25",
           "PLAIT_STREAM_HEARTBEAT_SECONDS": "1"}  # fmt: skip
    # No --app: the server's own worker knows no "relay", so only the worker process runs it.
    server = box._spawn("serve", [*PLAIT, "serve", "--port", str(port), "--db", box.db_url], env)
    box.wait_until(lambda: up(base), "plait serve up")
    box.worker("apps.streamed:engine")
    run_id = box.start(streamed.relay, 1)

    got: list[Message] = []
    signalled = 0.0
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=10.0) as http:
        with http.stream("GET", f"/~default/runs/{run_id}/stream") as stream:
            assert stream.status_code == 200
            deadline = time.monotonic() + DEADLINE
            for message in iter_messages(stream.iter_lines()):
                if time.monotonic() > deadline:  # heartbeats (every second) come here too
                    logs = "\n".join(c.describe() for c in box.children)
                    raise AssertionError(f"stuck after {[m.brief() for m in got]}\n{logs}")
                if message.event == "comment":
                    continue
                got.append(message)
                if message.brief() == ("run", "waiting"):
                    signalled = time.monotonic()
                    box.client.handle(run_id).signal("go", 2)
                if message.event == "end":
                    break
        took = time.monotonic() - signalled
        assert [m.brief() for m in got] == RELAY
        assert took < SIGNAL_TO_END, f"{took:.1f} s from the signal to the end on the stream"
        assert box.run(run_id).output == 4

        with http.stream("GET", "/~default/stream") as stream:
            assert stream.status_code == 200
            messages = iter_messages(stream.iter_lines())
            assert next(messages).event == "comment"  # open: stop the server now
            server.terminate()
            stopped = time.monotonic() + DEADLINE
            rest = []
            for message in messages:
                assert time.monotonic() < stopped, f"still open: {server.describe()}"
                if message.event != "comment":
                    rest.append(message)
    assert [m.event for m in rest] == ["close"]
    assert server.wait(within=15) == 0, server.describe()
