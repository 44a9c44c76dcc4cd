"""MCP over streamable HTTP at ``/mcp`` of ``plait serve`` (the SDK's session manager).

Every request is authenticated as the REST API authenticates: ``Authorization: Bearer <API
key>``; a key in the query string is refused (400, it would be logged), a missing, unknown or
revoked key answers 401 (and a database that is down, 503) before the SDK sees the request. The
key's organization is the organization the tools act in, and its role governs them. The SDK
binds each session to the key that opened it, so another key cannot use its session id.

DNS-rebinding protection (a check of ``Host`` and ``Origin``) is off: it guards servers that
trust whoever can reach them, and this one trusts no request without a key in its header,
which a page on another site can neither read nor make a browser send.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from plait.api.auth import KEY_PARAMETERS
from plait.api.problems import MEDIA_TYPE, TYPE_PREFIX
from plait.errors import DatabaseUnavailable
from plait.mcp.access import PRINCIPAL, Principal, Unauthenticated, principal_in

if TYPE_CHECKING:
    from mcp.server.mcpserver import Context, MCPServer
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

    from plait.engine import Engine

log = logging.getLogger(__name__)

PATH = "/mcp"
READY_SECONDS = 30.0
"""How long a request waits for the MCP server to start (the first loads the SDK)."""
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="plait"'}


def caller_of(ctx: Context) -> Principal:
    """The principal of the HTTP request that carries the call."""
    found = principal_in(ctx.request_context.request)
    if found is None:
        raise Unauthenticated("no API key came with the request")
    return found


class Endpoint:
    """The ASGI app at ``/mcp``: authenticates, then hands the request to the session manager
    of the running app (see :meth:`running`)."""

    def __init__(self, engine: Engine, *, read_only: bool = False) -> None:
        self.engine = engine
        self.read_only = read_only
        self.manager: StreamableHTTPSessionManager | None = None
        self._ready = asyncio.Event()
        self._stop: asyncio.Event | None = None
        self._serving: asyncio.Task[None] | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Let the MCP server run while the app does (its lifespan). It starts with the first
        request to ``/mcp`` (an app never asked costs nothing, the SDK is not even loaded), in
        a task of its own: its session manager is a new one each time the app runs (the SDK's
        runs once), and its task group must begin and end in one task, while an app's lifespan
        may begin and end in different tasks."""
        self._stop, self._serving, self._ready = asyncio.Event(), None, asyncio.Event()
        try:
            yield
        finally:
            stop, serving = self._stop, self._serving
            self._stop = None
            stop.set()
            if serving is not None:
                await serving

    async def _started(self) -> StreamableHTTPSessionManager | None:
        """The running session manager: started now by the first request, and waited for (up
        to :data:`READY_SECONDS`); ``None`` if the app is not running or the server failed."""
        if self._stop is None:
            return None
        if self._serving is None:
            self._serving = asyncio.create_task(self._serve(self._stop), name="plait-mcp")
        if not self._ready.is_set():
            waiting = asyncio.create_task(self._ready.wait())
            await asyncio.wait({waiting, self._serving}, timeout=READY_SECONDS,
                               return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
            waiting.cancel()
        return self.manager

    async def _serve(self, stop: asyncio.Event) -> None:
        try:
            server = await asyncio.to_thread(self._build)
            from mcp.server.transport_security import TransportSecuritySettings

            server.streamable_http_app(
                streamable_http_path=PATH,
                transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
            )
            manager = server.session_manager
            async with manager.run():
                self.manager = manager
                self._ready.set()
                try:
                    await stop.wait()
                finally:
                    self.manager = None
        except Exception:
            log.exception("the MCP server failed; /mcp answers 503")

    def _build(self) -> MCPServer[Any]:
        from plait.mcp.server import build_server

        return build_server(self.engine, caller_of, read_only=self.read_only)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        refused = await self._refusal(request)
        if isinstance(refused, Response):
            await refused(scope, receive, send)
            return
        manager = await self._started()
        if manager is None:
            await _problem(503, "The MCP server is not running.")(scope, receive, send)
            return
        from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
        from mcp.server.auth.provider import AccessToken

        key_id = refused.key_id or ""
        user = AuthenticatedUser(AccessToken(token=key_id, client_id=key_id, scopes=[refused.role]))
        await manager.handle_request({**scope, PRINCIPAL: refused, "user": user}, receive, send)

    async def _refusal(self, request: Request) -> Principal | Response:
        """The request's principal, or the answer that refuses it."""
        sent = sorted({n for n in request.query_params if n.lower() in KEY_PARAMETERS})
        if sent:
            return _problem(400, f"Send the API key in the header 'Authorization: Bearer <key>', "
                                 f"never in the query string (parameter {sent[0]!r}): URLs are "
                                 f"written to logs. Revoke a key sent so.")  # fmt: skip
        scheme, _, secret = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            return _problem(401, "Send an API key: 'Authorization: Bearer <key>'.", _CHALLENGE)
        try:
            key = await self.engine.keys.authenticate(secret.strip())
        except DatabaseUnavailable:
            return _problem(503, "The database is unreachable; retry shortly.",
                            {"Retry-After": "2"})  # fmt: skip
        if key is None:
            return _problem(401, "The API key is invalid or revoked.", _CHALLENGE)
        address = request.client.host if request.client else None
        return Principal(key.organization, key.role, key.id, key.user, address)


def mount(app: Any, engine: Engine) -> Callable[[], AbstractAsyncContextManager[None]]:
    """Serve MCP at ``/mcp`` of ``app`` (a Starlette or FastAPI app, ahead of its other
    routes); returns what its lifespan must enter while it serves."""
    endpoint = Endpoint(engine, read_only=engine.settings.mcp_read_only)
    app.router.routes.insert(0, Route(PATH, endpoint=endpoint, name="mcp"))
    return endpoint.running


def _problem(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    kinds = {400: "key-in-query", 401: "unauthorized", 503: "unavailable"}
    titles = {400: "Bad Request", 401: "Unauthorized", 503: "Service Unavailable"}
    document = {"type": TYPE_PREFIX + kinds[status], "title": titles[status], "status": status,
                "detail": detail, "errors": []}  # fmt: skip
    return Response(orjson.dumps(document), status, headers=headers, media_type=MEDIA_TYPE)
