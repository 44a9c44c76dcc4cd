"""Who is calling: ``Authorization: Bearer <API key>`` on every ``/~{org}/...`` route but the
webhook receiver (whose signature is its authentication).

Answers, in this order: a key sent in the query string (``?key=``, ``?api_key=``, ``?token=``,
``?access_token=``) -> 400, whatever its value (query strings land in logs); no key or an
unknown, revoked or malformed one -> 401; a key of another organization -> 404, the same answer
whether or not that organization or resource exists; a role below the route's -> 403 naming the
role needed.

The caller's role is kept for the request (:func:`plait.api.render.disclose_for`), so that the
errors in what the route answers are shown as that role may see them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request, Security
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from plait.api.problems import ApiProblem
from plait.api.render import disclose_for
from plait.engine import Engine
from plait.resources.keys import Role
from plait.service.audit import Actor, bind
from plait.service.keys import allows

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    bearerFormat="plait_<id>_<secret>",
    description="An API key of the organization in the path (`plait keys create`).",
)
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="plait"'}
KEY_PARAMETERS = frozenset({"key", "api_key", "apikey", "token", "access_token"})
"""Query parameters refused on authenticated routes: an API key there would be logged."""


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated caller: the organization in the path, and its key (with the person
    the key is bound to, if any)."""

    org: str
    key_id: str
    role: str
    user: str | None = None


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


EngineDep = Annotated[Engine, Depends(engine_of)]


def require(role: Role) -> Callable[..., Awaitable[Caller]]:
    """A dependency that lets through callers of ``org`` whose key has ``role`` or above."""

    async def authorize(
        request: Request,
        engine: EngineDep,
        org: Annotated[str, Path(description="The organization.")],
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    ) -> Caller:
        refuse_key_in_query(request)
        if credentials is None:
            raise ApiProblem(401, "Send an API key: 'Authorization: Bearer <key>'.",
                             headers=_CHALLENGE)  # fmt: skip
        key = await engine.keys.authenticate(credentials.credentials)
        if key is None:
            raise ApiProblem(401, "The API key is invalid or revoked.", headers=_CHALLENGE)
        if key.organization != org:
            raise ApiProblem(404, f"Nothing at {request.url.path}.")  # as for a missing route
        actor = Actor.of_key(key.id, key.role, key.user, interface="api",
                             address=request.client.host if request.client else None)  # fmt: skip
        if not allows(key.role, role):
            await _audit_denied(engine, request, org, actor)
            raise ApiProblem(403, f"This needs the {role} role or above; the key is {key.role}.")
        disclose_for(key.role)
        bind(actor)  # the changes this request makes are audited as this key's
        return Caller(org, key.id, key.role, key.user)

    authorize.__name__ = f"require_{role}"
    return authorize


_COLLECTIONS = {"workflows": "workflow", "runs": "run", "tasks": "task", "keys": "key",
                "secrets": "secret", "schedules": "schedule", "webhooks": "webhook",
                "events": "event"}  # fmt: skip
_METHOD_VERBS = {"POST": "create", "PUT": "set", "PATCH": "update", "DELETE": "delete"}
# Where a route's verb differs from its method's, the verb its service records.
_OWN_VERBS = {("keys", "DELETE"): "revoke", ("events", "POST"): "emit", ("secrets", "POST"): "set"}
_NESTED_VERBS = {"signals": "signal", "tests": "update"}


async def _audit_denied(engine: Engine, request: Request, org: str, actor: Actor) -> None:
    """Record a change refused for the key's role (reads refused are not changes)."""
    route = request.scope.get("route")
    if request.method in ("GET", "HEAD", "OPTIONS") or not isinstance(route, APIRoute):
        return
    verb, resource_type, resource_id = denied_change(
        request.method, route.path, request.path_params
    )
    await engine.audit.denied(org, actor, verb, resource_type, resource_id)


def denied_change(method: str, template: str, params: dict[str, str]) -> tuple[str, str, str]:
    """``(verb, resource type, resource id)`` of a request by its route's path template:
    ``POST /~{org}/workflows/{workflow_id}/activate`` is ``activate`` of that workflow."""
    parts = template.split("/")[2:]  # after "" and "~{org}"
    if parts[2:3] == ["instances"]:  # a state machine's instance: workflow/key, as its service
        return "send", "instance", f"{params.get('workflow', '-')}/{params.get('key', '-')}"
    collection = parts[0] if parts else ""
    resource_type = _COLLECTIONS.get(collection, collection.rstrip("s") or "organization")
    named = [p[1:-1] for p in parts[1:] if p.startswith("{") and p.endswith("}")]
    resource_id = params.get(named[0], "-") if named else "-"
    literal = [p for p in parts[2:] if not p.startswith("{")]
    if literal:
        verb = _NESTED_VERBS.get(literal[-1], literal[-1])
    else:
        verb = _OWN_VERBS.get((collection, method), _METHOD_VERBS.get(method, method.lower()))
    return verb, resource_type, resource_id


def refuse_key_in_query(request: Request) -> None:
    """400 for a request that carries an API key in its query string (the value is not echoed:
    it is a credential, now to be revoked)."""
    sent = sorted({name for name in request.query_params if name.lower() in KEY_PARAMETERS})
    if sent:
        raise ApiProblem(
            400,
            f"Send the API key in the header 'Authorization: Bearer <key>', never in the query "
            f"string (parameter {sent[0]!r}): URLs are written to logs. Revoke a key sent so.",
            kind="key-in-query",
            errors=[{"path": f"$.query.{name}", "message": "an API key in the query string"}
                    for name in sent],
        )  # fmt: skip


Viewer = Annotated[Caller, Depends(require("viewer"))]
Runner = Annotated[Caller, Depends(require("runner"))]
Editor = Annotated[Caller, Depends(require("editor"))]
Admin = Annotated[Caller, Depends(require("admin"))]
