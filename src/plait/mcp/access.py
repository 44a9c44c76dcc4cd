"""Who calls the MCP server, and what their role lets them do.

Over HTTP each request carries an API key (``Authorization: Bearer``), checked by
:mod:`plait.mcp.http` exactly as the REST API checks it; on stdio the process holds one key
(``PLAIT_API_KEY``) for its whole life, or, started with ``--local-admin`` on a local SQLite
file, acts as a local administrator. Either way a tool sees a :class:`Principal`: the key's
organization, role and person. Every tool needs the role of the REST route that does the same
thing (:mod:`plait.mcp.tools`), and what it changes is audited as the key's, through interface
``mcp``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from plait.errors import PlaitError
from plait.resources.keys import Role
from plait.service.audit import Actor, Denied
from plait.service.keys import allows

PRINCIPAL = "plait.mcp.principal"
"""The key of the ASGI scope where the HTTP endpoint leaves the request's :class:`Principal`."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who calls: the organization they act in, their role, their API key (none for a local
    administrator) and the person it is bound to, and, over HTTP, the client's address."""

    org: str
    role: str
    key_id: str | None = None
    user: str | None = None
    address: str | None = None
    name: str | None = None
    """A local administrator's name in the audit trail (the OS user)."""

    def actor(self) -> Actor:
        """The audit trail's actor: the key's holder, or the local administrator."""
        if self.key_id is not None:
            return Actor.of_key(self.key_id, self.role, self.user, interface="mcp",
                                address=self.address)  # fmt: skip
        return Actor(self.name or "local", "mcp", role=self.role, address=self.address)

    @property
    def by(self) -> str:
        """Who acts, as a run's history records it (``key:<id>``, as over REST)."""
        return f"key:{self.key_id}" if self.key_id is not None else (self.name or "local")

    def allows(self, role: str) -> bool:
        return allows(self.role, cast("Role", role))


class RoleRefused(Denied):
    """The caller's key has a role below the one the tool needs (403 over REST)."""

    def __init__(self, needed: str, role: str) -> None:
        self.needed = needed
        self.role = role
        super().__init__(f"This needs the {needed} role or above; the key is {role}.")


class Unauthenticated(PlaitError):
    """A request reached a tool without a checked key (the endpoint lets none through)."""


def principal_in(request: Any) -> Principal | None:
    """The principal the HTTP endpoint attached to a request (``None`` for none, or stdio)."""
    scope = getattr(request, "scope", None)
    found = scope.get(PRINCIPAL) if isinstance(scope, dict) else None
    return found if isinstance(found, Principal) else None
