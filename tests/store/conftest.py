"""The store contract suite runs against every backend: one fixture, parametrised."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from plait.settings import Settings
from plait.store.base import Store
from plait.store.urls import open_store
from tests.backends import BACKENDS, database_url


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database of each backend (another store may open it too, as another process)."""
    with database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    backend = open_store(Settings.load(database_url=store_url))
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()
