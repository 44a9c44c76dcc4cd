"""Idempotent requests: an idempotency key (the REST API's ``Idempotency-Key`` header, the
Python API's ``idempotency_key=``, the CLI's ``--idempotency-key``) makes a trigger, an emit or
a run operation happen once, however often a client sends it.

The rule, for a key of an organization within ``Settings.idempotency_seconds`` of its first use:

- The first request reserves the key in the store (insert-or-conflict, so that of concurrent
  requests with one key exactly one acts), acts, and records what it answered.
- A repeat (same key, same operation and arguments) answers that: for an operation that
  answers a run, the run as it is now (its status while it runs, its output once it ended);
  otherwise the first answer itself. While the first request is still acting, a repeat waits
  for it (up to ``WAIT_SECONDS``, then ``IdempotencyKeyInProgress``).
- A request with the key but another operation or other arguments is refused
  (``IdempotencyKeyReused``), as Stripe does.
- A first request that fails with a plait error changed nothing: its reservation is released
  and a repeat acts. One that died otherwise (a crash, a lost database) may or may not have
  acted: its key stays reserved until ``ABANDONED_SECONDS`` have passed, then a repeat acts.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from plait import values
from plait.errors import (
    IdempotencyKeyInProgress,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    PlaitError,
    SerializationError,
    StoreError,
)
from plait.ids import new_id
from plait.store.records import IdempotencyKey

if TYPE_CHECKING:
    from plait.service.deps import Deps
    from plait.store.base import Store

T = TypeVar("T")

MAX_KEY_LENGTH = 255
ABANDONED_SECONDS = 60.0
"""A reservation that recorded no result for this long belongs to a request that died: a repeat
with the same arguments may act in its place."""
WAIT_SECONDS = 10.0
"""How long a repeat waits for the first request, still acting, to record its result."""


@dataclass(frozen=True)
class Request:
    """What a request with an idempotency key does: ``operation`` names it for people
    (``runs.cancel run_…``), ``arguments`` (JSON) are what makes two requests the same."""

    operation: str
    arguments: dict[str, Any]

    def fingerprint(self) -> str:
        """SHA-256 (hex) of the operation and its arguments, keys sorted."""
        try:
            plain = orjson.loads(values.encode(self.arguments))
        except TypeError as exc:
            what = f"the arguments of {self.operation}"
            raise SerializationError(what, values.offending_type(self.arguments), str(exc)) from exc
        data = orjson.dumps([self.operation, plain], option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(data).hexdigest()


def check_key(key: str) -> None:
    """Raise ``IdempotencyKeyInvalid`` unless ``key`` is 1 to 255 printable characters."""
    if not isinstance(key, str) or not key:
        raise IdempotencyKeyInvalid("it must be a non-empty string")
    if len(key) > MAX_KEY_LENGTH:
        raise IdempotencyKeyInvalid(f"it has {len(key)} characters; at most {MAX_KEY_LENGTH}")
    if not key.isprintable():
        raise IdempotencyKeyInvalid("it must hold printable characters only")


async def once(
    deps: Deps, org: str, key: str | None, request: Request, act: Callable[[], Awaitable[T]],
    *, keep: Callable[[T], Any], recall: Callable[[Any], Awaitable[T]],
) -> T:  # fmt: skip
    """``act()`` once per ``key`` of ``org`` (every time without a key), as the module says.

    ``keep(result)`` is what is recorded (JSON), ``recall(kept)`` rebuilds the answer of a
    repeat from it.
    """
    if key is None:
        return await act()
    check_key(key)
    fingerprint = request.fingerprint()
    store = await deps.store()
    loop, poll = asyncio.get_running_loop(), 0.005
    deadline = loop.time() + WAIT_SECONDS
    while True:
        now = deps.now()
        claim = IdempotencyKey(org, key, request.operation, fingerprint, new_id("request"), None,
                               now, now + deps.settings.idempotency_seconds)  # fmt: skip
        held = await store.reserve_idempotency_key(
            claim, now=now, stale_before=now - ABANDONED_SECONDS
        )
        if held is None:
            return await _act(store, claim, act, keep)
        if held.fingerprint != fingerprint:
            raise IdempotencyKeyReused(key, held.operation, deps.settings.idempotency_seconds)
        if held.result is not None:
            return await recall(orjson.loads(held.result))
        if loop.time() >= deadline:
            raise IdempotencyKeyInProgress(key, held.operation)
        await asyncio.sleep(poll)
        poll = min(poll * 2, 0.25)


async def _act(
    store: Store, claim: IdempotencyKey, act: Callable[[], Awaitable[T]],
    keep: Callable[[T], Any],
) -> T:  # fmt: skip
    try:
        result = await act()
    except PlaitError as exc:
        if not isinstance(exc, StoreError):  # refused: nothing happened, a repeat may act
            await store.release_idempotency_key(claim.org, claim.key, claim.token)
        raise
    kept = values.encode(keep(result))
    await store.complete_idempotency_key(claim.org, claim.key, claim.token, kept)
    return result
