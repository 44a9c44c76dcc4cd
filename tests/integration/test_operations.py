"""Operations: `plait migrate`, and the API answering 503 while the database is unreachable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from plait import Engine
from plait.api import create_app
from plait.store.sql import load_migrations
from tests.backends import BACKENDS, database_url


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrate_is_idempotent_and_prints_the_version(backend: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
    with database_url(backend, tmp_path) as url:
        outputs = []
        for _ in range(2):
            done = subprocess.run([sys.executable, "-m", "plait", "migrate", "--db", url, "--json"],
                                  capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
            assert done.returncode == 0, done.stderr
            outputs.append(json.loads(done.stdout))
    latest = len(
        load_migrations(f"plait.store.{'sqlite' if backend == 'sqlite' else 'postgres'}.migrations")
    )
    # What GET /healthz answers: the Health resource.
    assert outputs == [{"status": "ok", "database": "ok", "schemaVersion": latest}] * 2


async def test_api_answers_503_problem_while_the_database_is_unreachable(
    tmp_path: Path,
) -> None:
    # A server that refuses connections: nothing listens on this port.
    engine = Engine("postgresql://postgres@127.0.0.1:9/nowhere")
    app = create_app(engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://plait") as client:
        health = await client.get("/healthz")
        listed = await client.get("/~acme/workflows", headers={"Authorization": "Bearer x"})
    for answer in (health, listed):
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert "Traceback" not in answer.text
    await engine.close()
