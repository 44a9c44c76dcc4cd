"""MCP on stdin/stdout (``plait mcp``): one caller for the life of the process.

The caller is the API key in ``PLAIT_API_KEY`` (its organization, role and person), checked
once at start; without one the server does not start, unless it was started explicitly for
local administration of a local SQLite file (``--local-admin``), where it acts as an admin of
one organization, audited under the OS user's name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from plait.errors import PlaitError
from plait.mcp.access import Principal

if TYPE_CHECKING:
    from plait.engine import Engine


class KeyRefused(PlaitError):
    """The API key given to ``plait mcp`` is unknown, revoked or malformed."""


def local_database(engine: Engine) -> bool:
    """Whether the engine's database is a SQLite file on this machine (what ``--local-admin``
    may administer without a key)."""
    url = engine.settings.database_url
    return url.startswith("sqlite:") and ":memory:" not in url


async def key_principal(engine: Engine, secret: str) -> Principal:
    """The principal of an API key; ``KeyRefused`` for a key that does not authenticate."""
    key = await engine.keys.authenticate(secret.strip())
    if key is None:
        raise KeyRefused("the API key in PLAIT_API_KEY is invalid or revoked")
    return Principal(key.organization, key.role, key.id, key.user)


async def serve(
    engine: Engine, *, secret: str | None, local_admin: str | None, org: str, read_only: bool,
    worker: bool,
) -> None:  # fmt: skip
    """Serve MCP on stdio until the client closes stdin, as the key ``secret`` (or, without
    one, as the local administrator named ``local_admin`` of ``org``); with ``worker``, also
    execute runs in this process."""
    try:
        await engine.health.check()  # opens (and migrates) the database
        if secret is not None:
            principal = await key_principal(engine, secret)
        else:
            principal = Principal(org, "admin", name=local_admin or "local")
        if worker:
            await engine.start_worker()
        from plait.mcp.server import build_server  # the SDK loads once the caller is known

        server = build_server(engine, lambda ctx: principal, read_only=read_only)
        await server.run_stdio_async()
    finally:
        await engine.close()
