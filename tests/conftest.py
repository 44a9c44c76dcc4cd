"""Shared fixtures: every test gets its own database file and, where time matters, a virtual
clock."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from plait import Engine
from plait.testing import VirtualClock
from tests.backends import BACKENDS, database_url

TEST_SECRET_KEY = "Vc8v6M62sdIqriQWC2bjYax8WFoKW5LuYhMp3u79QUs="
"""The session's sealing key (a Fernet key made for the tests): storing webhook secrets and
secrets needs one. Set in the environment so that subprocesses (``plait serve``) inherit it;
a test of the refusal unsets it with ``monkeypatch``."""
if not os.environ.get("PLAIT_SECRET_KEY"):
    os.environ["PLAIT_SECRET_KEY"] = TEST_SECRET_KEY


def pytest_sessionstart(session: pytest.Session) -> None:
    """CI must run the PostgreSQL half of the suite: refuse to start without its URL."""
    if os.environ.get("CI") and not os.environ.get("PLAIT_TEST_POSTGRES_URL"):
        raise pytest.UsageError("CI=true but PLAIT_TEST_POSTGRES_URL is not set")


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database of each backend (PostgreSQL: a schema of its own)."""
    with database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(start=1_800_000_000.0)


@pytest.fixture
async def make_engine(db_url: str) -> AsyncIterator[Callable[..., Engine]]:
    """Build engines on the test's database; all are closed at the end of the test."""
    built: list[Engine] = []

    def make(**settings: Any) -> Engine:
        settings.setdefault("database_url", db_url)
        engine = Engine(**settings)
        built.append(engine)
        return engine

    yield make
    for engine in built:
        await engine.close()
