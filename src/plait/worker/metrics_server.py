"""``plait worker --metrics-port``: the engine's Prometheus metrics on a small HTTP endpoint of the
worker process itself (runs execute in the worker, so its figures are its own).

An asyncio server in the worker's event loop: a scrape reads the store's figures with the
engine's own connections, and answers ``GET /metrics`` (any other path is a 404)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@asynccontextmanager
async def serving_metrics(
    render: Callable[[], Awaitable[bytes]], host: str, port: int
) -> AsyncIterator[asyncio.Server]:
    """Serve the exposition ``render`` returns (``engine.health.metrics``) on ``host:port`` for
    the duration of the block."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await _answer(render, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            log.debug("metrics scrape dropped: the client went away (%s)", type(exc).__name__)
        except Exception:
            log.exception("metrics scrape failed")
        finally:
            writer.close()

    server = await asyncio.start_server(answer, host, port)
    log.info("metrics on http://%s:%d/metrics", host, port)
    try:
        yield server
    finally:
        server.close()
        await server.wait_closed()


async def _answer(
    render: Callable[[], Awaitable[bytes]],
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
) -> None:
    request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
    method, _, rest = request.partition(b" ")
    path = rest.split(b" ", 1)[0].split(b"?", 1)[0]
    if method not in (b"GET", b"HEAD") or path != b"/metrics":
        status, body, kind = "404 Not Found", b"Only GET /metrics is served here.\n", "text/plain"
    else:
        status, body, kind = "200 OK", await render(), CONTENT_TYPE
    head = (f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n")  # fmt: skip
    writer.write(head.encode() + (b"" if method == b"HEAD" else body))
    await writer.drain()
