"""The audit trail: every change a caller makes through the API, the CLI, the console or Python
(and every refusal of one) is recorded, append-only, with who, what, when, from where, and the
result.

**Who** is an :class:`Actor`. Each interface says who acts once, at its edge, with
:func:`acting`: the REST API in its authentication dependency (the key, its person and role, the
client's address), the CLI around each command (``cli``, ``PLAIT_ACTOR`` or the OS user), the
console for its signed-in key, and Python callers with ``engine.audit.acting("alice")``. The
actor is carried by a context variable of the request's task rather than by a parameter of each
of the thirty verbs (and of the handles and facades over them): it cannot leak from one request
to another (each request runs in its own context) and a service cannot forget to pass it on.
A service asks for nothing but :func:`audited` around its change.

**What** a service records is the verb it performs on its resource: :func:`audited` wraps the
change and writes one entry when it ends, ``ok`` (with the version before and after, where the
resource has versions), ``denied`` (the caller may not: a role, an assignee, a hook's veto) or
``failed`` (the error type). A verb that calls another audited verb (storing a workflow's tests
updates the workflow; creating a workflow creates its declared schedules) records one entry, the
outer one. Runs' own transitions are the run's history, not audit entries.

**When** the entry is written: right after the change, in its own transaction (which the group
commit batches with the writes around it), not in the change's transaction: the refusals and
failures worth auditing have no transaction to join (it rolled back, or never began), and one
write path serves every verb without threading a session through thirty store verbs. The price
is a window: a process that dies between the change's commit and the entry's loses the entry.

**Cost**: a run started, an event emitted or an event sent to a state machine from Python
without an actor (``engine.start``, ``engine.events.emit``: hot paths) writes no entry; with an
actor (``engine.audit.acting``), over the API, the CLI or the console, it does. Every other
audited verb is an administrative change (lifecycle, keys, secrets, schedules, webhooks, tasks,
run operations) and is recorded from Python too, as ``local`` unless an actor or ``by=`` says
who. What a run does (its steps' changes, the events it emits) is not its starter's: a worker's
tasks and the runs it executes act as nobody (:func:`unattributed`).
"""

from __future__ import annotations

import builtins
import json
import logging
import math
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
)
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from plait.errors import HookVetoed, InvalidQuery, PlaitError, TaskForbidden
from plait.ids import new_id
from plait.service.pages import MAX_LIMIT, keyset_after, keyset_slice
from plait.store.audit import AuditFilter, AuditRecord

if TYPE_CHECKING:
    from plait.resources.audit import AuditEntry, AuditPage
    from plait.service.deps import Deps

log = logging.getLogger(__name__)

INTERFACES = ("api", "cli", "python", "console", "mcp")
EVERY_ORG = "*"
"""The trail of changes to every organization at once (a rotation of the secrets' key): the
operators', read on the database (``plait audit list --org '*'``), not over the API."""
LOCAL = "local"
"""The actor of a local call (Python, the CLI) that did not say who acts."""
PRUNE_BATCH = 1_000
"""Most entries one retention pass deletes per transaction."""
PRUNE_PASSES = 10
"""Most batches one periodic retention call deletes (the worker calls again later)."""
PRUNE_INTERVAL_SECONDS = 600.0
"""How often the worker applies the retention."""
RUN_ENTRIES = 1_000
"""Most entries ``?include=audit`` shows of one run."""
_DAY = 86_400.0


class Denied(PlaitError):
    """The caller's role may not do this (403): recorded as ``denied``."""


_DENIALS = (Denied, TaskForbidden, HookVetoed)


class AuditQueryInvalid(InvalidQuery):
    """An argument of an audit listing is invalid; ``parameter`` names it."""

    def __init__(self, parameter: str, reason: str) -> None:
        self.parameter = parameter
        self.reason = reason
        super().__init__(f"{parameter}: {reason}")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a change, and through what.

    ``name`` is who is shown: the key's person, else the key's id, else the name a local
    caller gave (``local`` if none)."""

    name: str
    interface: str = "python"
    key_id: str | None = None
    user: str | None = None
    role: str | None = None
    address: str | None = None

    def __post_init__(self) -> None:
        if self.interface not in INTERFACES:
            raise ValueError(f"interface must be one of {', '.join(INTERFACES)}")
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError("an actor needs a non-empty name")

    @classmethod
    def of_key(
        cls, key_id: str, role: str, user: str | None = None, *, interface: str = "api",
        address: str | None = None,
    ) -> Actor:  # fmt: skip
        """The holder of an API key (over HTTP: the API, the console, the MCP server)."""
        return cls(user or key_id, interface, key_id, user, role, address)

    @classmethod
    def local(cls, name: str | None = None, *, interface: str = "python") -> Actor:
        """A local caller (Python, the CLI): ``name`` if given, else ``local``."""
        return cls(name or LOCAL, interface)


_ACTOR: ContextVar[Actor | None] = ContextVar("plait_audit_actor", default=None)
_INSIDE: ContextVar[bool] = ContextVar("plait_audit_inside", default=False)


@contextmanager
def acting(actor: Actor) -> Iterator[Actor]:
    """Within the block (and the tasks it starts), changes are made by ``actor``."""
    token = _ACTOR.set(actor)
    try:
        yield actor
    finally:
        _ACTOR.reset(token)


@contextmanager
def unattributed() -> Iterator[None]:
    """Within the block nobody acts and no audited verb is open: for the tasks a worker starts
    (its loops, the runs it executes), which would otherwise inherit the actor, and the open
    verb, of whoever started the worker or the run (``asyncio`` tasks copy the context). What a
    run does is its own history, not its starter's change."""
    actor, inside = _ACTOR.set(None), _INSIDE.set(False)
    try:
        yield
    finally:
        _INSIDE.reset(inside)
        _ACTOR.reset(actor)


def bind(actor: Actor) -> None:
    """For the rest of this task (a request's), changes are made by ``actor``: for an
    interface's edge that cannot wrap the handler in :func:`acting` (the REST API's
    authentication dependency)."""
    _ACTOR.set(actor)


def rebind(actor: Actor | None) -> None:
    """Put back the actor found before an interface's request bound its own (so that a request
    served in its caller's task, as in-process tests do, leaves no actor behind)."""
    _ACTOR.set(actor)


def current_actor() -> Actor | None:
    """The actor an interface set for this task, if any."""
    return _ACTOR.get()


def actor_data() -> dict[str, Any]:
    """Who acts now, as the data of the events a change emits (``Workflow.activated``)."""
    actor = _ACTOR.get() or Actor.local()
    return {"name": actor.name, "key": actor.key_id, "user": actor.user,
            "interface": actor.interface}  # fmt: skip


@dataclass(slots=True)
class Change:
    """What a service tells the trail about the change it is making (fill in as it goes)."""

    resource_id: str
    run: str | None = None
    version_before: int | None = None
    version_after: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class What:
    """The verb and the resource type of an entry."""

    verb: str
    resource_type: str


Audited = AbstractAsyncContextManager[Change]
"""What :func:`audited` returns."""


@asynccontextmanager
async def audited(
    deps: Deps, org: str, verb: str, resource_type: str, resource_id: str, *,
    run: str | None = None, by: str | None = None, optional: bool = False,
) -> AsyncIterator[Change]:  # fmt: skip
    """Record the change the block makes as one entry, written when the block ends: ``ok``,
    or ``denied``/``failed`` with the error's type (the error propagates).

    ``by`` names a local caller when no interface set an actor (``by=`` of run operations).
    ``optional``: record only when an interface set an actor (a run's start: the hot path).
    Inside another audited block nothing more is recorded (one entry per caller's action)."""
    actor = _ACTOR.get()
    change = Change(resource_id, run)
    if _INSIDE.get() or (optional and actor is None):
        yield change
        return
    who = actor if actor is not None else Actor.local(by)
    what = What(verb, resource_type)
    token = _INSIDE.set(True)
    try:
        yield change
    except BaseException as exc:  # cancelled too: the change may have committed before it
        _INSIDE.reset(token)
        result = "denied" if isinstance(exc, _DENIALS) else "failed"
        await _write(deps, org, who, what, change, result, type(exc).__name__)
        raise
    _INSIDE.reset(token)
    await _write(deps, org, who, what, change, "ok", None)


async def record_denied(deps: Deps, org: str, actor: Actor, what: What, resource_id: str) -> None:
    """Record a change refused before it reached its service (a key's role too low)."""
    await _write(deps, org, actor, what, Change(resource_id), "denied", Denied.__name__)


async def _write(
    deps: Deps, org: str, actor: Actor, what: What, change: Change, result: str,
    error: str | None,
) -> None:  # fmt: skip
    """Append the entry; a store that fails here is logged, never raised over the change's own
    outcome (the change has committed, or its error is the answer)."""
    record = AuditRecord(
        new_id("audit"), org, deps.now(), actor.name, actor.key_id, actor.user, actor.role,
        actor.interface, actor.address, what.verb, what.resource_type, change.resource_id,
        change.run, change.version_before, change.version_after, result, error,
        _details(change.details),
    )  # fmt: skip
    try:
        await (await deps.store()).append_audit(record)
    except PlaitError:
        log.exception("the audit entry of %s %s %s was not written", what.verb,
                      what.resource_type, change.resource_id)  # fmt: skip


def _details(details: Any) -> bytes:
    """The entry's details as JSON (what orjson cannot encode, such as an integer beyond 64
    bits a request carried, is kept by the standard encoder)."""
    try:
        return orjson.dumps(details, default=str)
    except orjson.JSONEncodeError:
        return json.dumps(details, default=str).encode()


class AuditService:
    """``engine.audit``: read the trail, say who acts, apply the retention."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._next_prune_at = float("-inf")

    def acting(
        self, actor: Actor | str | None = None, *, interface: str = "python"
    ) -> AbstractContextManager[Actor]:
        """``with engine.audit.acting("alice"):``: changes made in the block are by ``alice``
        (an :class:`Actor`, a name, or ``None`` for ``local``); runs started in it are
        recorded too."""
        if not isinstance(actor, Actor):
            actor = Actor.local(actor, interface=interface)
        return acting(actor)

    async def list(
        self, org: str, *, resource: str | None = None, actor: str | None = None,
        verb: str | None = None, since: datetime | float | str | None = None,
        until: datetime | float | str | None = None, limit: int = 100,
        cursor: str | None = None, type: str | None = None,
    ) -> AuditPage:  # fmt: skip
        """The organization's entries, newest first, a page at a time: those of a resource
        (its id, or a run's id for every entry that concerns the run), of a resource ``type``
        (``schedule``, ``key``, ...), of an actor (a person,
        a key id, or a local name), of a verb, at or after ``since`` and before ``until``
        (datetimes, Unix seconds or ISO 8601 text). ``InvalidQuery`` names a bad argument."""
        from plait.resources.audit import AuditEntry, AuditPage

        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise AuditQueryInvalid("limit", f"must be between 1 and {MAX_LIMIT}, got {limit!r}")
        where = AuditFilter(_text(resource, "resource"), _text(actor, "actor"),
                            _text(verb, "verb"), instant(since, "since"),
                            instant(until, "until"), _text(type, "type"))  # fmt: skip
        try:
            after = keyset_after(cursor, "audit", (int,))
        except InvalidQuery as exc:
            raise AuditQueryInvalid("cursor", str(exc)) from exc
        store = await self.deps.store()
        rows = await store.page_audit(org, where, None if after is None else after[0], limit + 1)
        shown, next_cursor = keyset_slice(rows, limit, "audit", lambda r: [r.seq])
        return AuditPage(items=[AuditEntry.of(r) for r in shown], next_cursor=next_cursor)

    async def of_run(self, org: str, run_id: str) -> builtins.list[AuditEntry]:
        """The entries that concern one run (its start or trigger, operations, tasks), oldest
        first (the first :data:`RUN_ENTRIES`)."""
        from plait.resources.audit import AuditEntry

        store = await self.deps.store()
        return [AuditEntry.of(r) for r in await store.audit_of_run(org, run_id, RUN_ENTRIES)]

    async def denied(self, org: str, actor: Actor, verb: str, resource_type: str,
                     resource_id: str) -> None:  # fmt: skip
        """Record a change refused before it reached its service (a key's role too low)."""
        await record_denied(self.deps, org, actor, What(verb, resource_type), resource_id)

    async def maintain(self, now: float) -> int:
        """The worker's periodic retention: :meth:`prune` at most every
        :data:`PRUNE_INTERVAL_SECONDS` (sooner while a pass leaves more to delete), so that the
        claim loop's turns write nothing in between; how many entries were deleted."""
        if now < self._next_prune_at:
            return 0
        self._next_prune_at = now + PRUNE_INTERVAL_SECONDS  # a failed pass is not retried sooner
        deleted = await self.prune(now)
        if deleted >= PRUNE_BATCH * PRUNE_PASSES:
            self._next_prune_at = now + 1.0
        return deleted

    async def prune(self, now: float) -> int:
        """Delete the entries older than ``audit_retention_days`` (0: keep every entry), in
        batches of :data:`PRUNE_BATCH`, at most :data:`PRUNE_PASSES` of them; how many."""
        days = self.deps.settings.audit_retention_days
        if days <= 0:
            return 0
        store = await self.deps.store()
        total = 0
        for _ in range(PRUNE_PASSES):
            deleted = await store.prune_audit(now - days * _DAY, PRUNE_BATCH)
            total += deleted
            if deleted < PRUNE_BATCH:
                break
        return total


def _text(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > 500:
        raise AuditQueryInvalid(name, "must be a non-empty text of at most 500 characters")
    return value


_ISO = re.compile(r"\d{4}-\d{2}-\d{2}([T ][0-9:.]+)?(Z|[+-]\d{2}:?\d{2})?")


def _iso(text: str) -> datetime | None:
    """The time ISO 8601 ``text`` names, or ``None`` when it names none."""
    text = text.strip()
    if not _ISO.fullmatch(text):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:  # the shape of a date, not a date (2027-02-30)
        return None


def instant(value: datetime | float | str | None, name: str) -> float | None:
    """Unix seconds of a time given as a datetime (naive: UTC), Unix seconds, or ISO 8601
    text; ``AuditQueryInvalid`` naming ``name`` for anything else."""
    if value is None:
        return None
    if isinstance(value, float | int) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise AuditQueryInvalid(name, f"must be a finite time, got {value!r}")
        return float(value)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    parsed = _iso(value) if isinstance(value, str) else None
    if parsed is not None:
        return instant(parsed, name)
    raise AuditQueryInvalid(name, f"must be a time in ISO 8601 (2027-01-15T08:00:00Z), got "
                            f"{str(value)[:100]!r}")  # fmt: skip
