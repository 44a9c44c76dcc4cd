"""The store contract suite runs against every backend: one fixture, parametrised."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from plait.settings import Settings
from plait.store.base import Store
from plait.store.urls import open_store
from tests.backends import BACKENDS, database_url


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    with database_url(request.param, tmp_path) as url:
        backend = open_store(Settings.load(database_url=url))
        await backend.open()
        try:
            yield backend
        finally:
            await backend.close()
