"""The MCP server under the reference SDK's client: over streamable HTTP from a real server
(uvicorn serving ``create_app`` with a worker, on a free port, each backend) and over stdio (a
``python -m plait mcp`` child process on a SQLite file)."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest
import uvicorn
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextContent

from mcp import ClientSession, StdioServerParameters, stdio_client
from plait import Engine
from plait.api import create_app
from plait.testing import assert_eventually
from tests.backends import BACKENDS, database_url

ORG = "acme"
ROLES = ("viewer", "runner", "editor", "admin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Served:
    """A running ``plait serve``-like server: its engine, URL and keys (``keys["editor"]``;
    ``ann`` is a runner key bound to the person ann)."""

    engine: Engine
    url: str
    keys: dict[str, str]

    @asynccontextmanager
    async def session(self, key: str | None) -> AsyncIterator[ClientSession]:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            streamable_http_client(f"{self.url}/mcp", http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session


async def make_keys(engine: Engine) -> dict[str, str]:
    keys = {role: (await engine.keys.create(ORG, role)).key for role in ROLES}
    keys["ann"] = (await engine.keys.create(ORG, "runner", user="ann")).key
    keys["globex"] = (await engine.keys.create("globex", "admin")).key
    return keys


@pytest.fixture(params=BACKENDS)
async def served(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Served]:
    with database_url(request.param, tmp_path) as url:
        read_only = request.node.get_closest_marker("mcp_read_only") is not None
        engine = Engine(url, mcp_read_only=read_only)
        port = free_port()
        config = uvicorn.Config(create_app(engine, worker=True), host="127.0.0.1", port=port,
                                log_config=None, timeout_graceful_shutdown=5)  # fmt: skip
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        try:
            await assert_eventually(_started(server, serving))
            yield Served(engine, f"http://127.0.0.1:{port}", await make_keys(engine))
        finally:
            server.should_exit = True
            await asyncio.wait_for(serving, 15)


def _started(server: uvicorn.Server, serving: asyncio.Task[None]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        if serving.done():
            serving.result()
        return server.started

    return check


@dataclass
class Local:
    """A SQLite file with keys, for ``plait mcp`` children."""

    db: str
    keys: dict[str, str]
    cwd: Path

    def parameters(self, key: str | None, *flags: str) -> StdioServerParameters:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("PLAIT_") or k == "PLAIT_SECRET_KEY"}  # fmt: skip
        if key is not None:
            env["PLAIT_API_KEY"] = key
        return StdioServerParameters(command=sys.executable,
                                     args=["-m", "plait", "mcp", "--db", self.db, *flags],
                                     env=env, cwd=str(self.cwd))  # fmt: skip

    @asynccontextmanager
    async def session(self, key: str | None, *flags: str) -> AsyncIterator[ClientSession]:
        with (self.cwd / "mcp-stderr.log").open("a") as errlog:
            async with (
                stdio_client(self.parameters(key, *flags), errlog=errlog) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                yield session


@pytest.fixture
async def local(tmp_path: Path) -> Local:
    db = f"sqlite:///{tmp_path / 'mcp.db'}"
    engine = Engine(db)
    try:
        keys = await make_keys(engine)
    finally:
        await engine.close()
    return Local(db, keys, tmp_path)


# -- reading results ----------------------------------------------------------------------------


def data(result: CallToolResult) -> Any:
    """The JSON a tool answered (its text), failing the test on a tool error."""
    assert not result.is_error, text(result)
    return orjson.loads(text(result))


def problem(result: CallToolResult, status: int) -> dict[str, Any]:
    """The problem document of a tool error of ``status``."""
    assert result.is_error, text(result)
    document: dict[str, Any] = orjson.loads(text(result))
    assert document["status"] == status, document
    assert result.structured_content == document
    return document


def text(result: CallToolResult) -> str:
    (block,) = result.content
    assert isinstance(block, TextContent)
    return block.text
