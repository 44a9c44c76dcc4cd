"""Step-result caching: ``ctx.step(..., cache=Cache(ttl="1h"))`` and a definition step's
``cache: {key, ttl}``.

Before a step's first attempt, its cache key is computed and looked up in the organization's
cache, in the step's scope (``{workflow}/{step}``, or the namespace it names). A live entry is
the step's output: the step is recorded completed with it, ``cached`` and with 0 attempts, and
its callable is not called. Otherwise the step runs as usual and, when it succeeds, its output
is stored with its expiry. A failed step stores nothing. The run's own record answers every
later replay of the step, so a replay never reads the cache again.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import orjson

from plait import values
from plait.clock import working
from plait.errors import StepFailed
from plait.metrics import CURRENT
from plait.store.records import StepRecord
from plait.store.step_cache import CacheEntry

if TYPE_CHECKING:
    from plait.expressions.templates import Template
    from plait.runtime.context import Context, _Call

KEY_SHOWN = 200
"""Characters of a key kept to show (the entry is found by the key's SHA-256)."""
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3_600.0, "d": 86_400.0}
TTL_FORMS = "seconds (a number) or a duration like '90s', '30m', '1h', '7d'"


def ttl_seconds(value: Any) -> float:
    """``value`` as a number of seconds greater than 0: a number of seconds, a ``timedelta``,
    or a string with a unit (``"250ms"``, ``"90s"``, ``"30m"``, ``"1h"``, ``"7d"``); else
    ``ValueError`` saying what is accepted."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match[1]) * _UNIT_SECONDS[match[2]]
    else:
        raise ValueError(f"ttl must be {TTL_FORMS}, not {value!r}")
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"ttl must be more than 0 seconds, not {value!r}")
    return seconds


@dataclass(frozen=True, slots=True, kw_only=True)
class Cache:
    """How a step's result is cached: ``ctx.step("geocode", geocode, address,
    cache=Cache(ttl="1d"))``.

    Attributes:
        ttl: how long an entry lives: seconds, a ``timedelta`` or ``"30m"``, ``"1h"``, ``"7d"``.
        key: what identifies a result: a string, or a callable given the step's arguments
            (``lambda address: address.lower()``) that returns a string or any JSON value.
            None (default): the step's arguments themselves (as JSON).
        namespace: entries are shared by the steps that name the same namespace (in one
            organization); None (default): the workflow's step of this name only.

    Raises:
        ValueError: a ttl that is not a duration of more than 0, a key that is neither a
            string nor a callable, an empty namespace.
    """

    ttl: float | timedelta | str
    key: str | Callable[..., Any] | None = None
    namespace: str | None = None

    def __post_init__(self) -> None:
        ttl_seconds(self.ttl)  # ValueError when it is not a duration
        if self.namespace is not None and not (isinstance(self.namespace, str) and self.namespace):
            raise ValueError(f"a cache namespace must be a non-empty string, not "
                             f"{self.namespace!r}")  # fmt: skip
        if self.key is not None and not (isinstance(self.key, str) or callable(self.key)):
            raise ValueError(f"a cache key must be a string or a callable, not "
                             f"{type(self.key).__name__}")  # fmt: skip

    @property
    def seconds(self) -> float:
        """The ttl in seconds."""
        return ttl_seconds(self.ttl)

    @classmethod
    def of(cls, value: Cache | Mapping[str, Any] | None) -> Cache | None:
        """``value`` as a ``Cache``: one already, a mapping of its fields (``{"ttl": 3600,
        "key": "..."}``), or None (no caching)."""
        if value is None or isinstance(value, Cache):
            return value
        if isinstance(value, Mapping):
            unknown = sorted(set(value) - {"ttl", "key", "namespace"})
            if unknown or "ttl" not in value:
                raise ValueError(f"cache takes ttl (required), key and namespace, not "
                                 f"{sorted(value)}")  # fmt: skip
            return cls(**value)
        raise ValueError(f"cache must be a plait.Cache or a dict, not {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class Slot:
    """Where one step's result is cached: its scope, the key's hash, and the entry's life."""

    scope: str
    key_hash: str
    key_text: str
    ttl: float


@functools.lru_cache(maxsize=512)
def _template(key: str) -> Template:
    from plait.expressions import compile_template  # not at ``import plait``: CEL is heavy

    return compile_template(key)


def templated(key: str, ttl: float, namespace: str, scope: Mapping[str, Any]) -> Cache:
    """The ``Cache`` of a definition's step: ``key`` is a template rendered against ``scope``
    (what the step's input sees) when the step is about to run."""
    template = _template(key)
    return Cache(ttl=ttl, key=lambda: template.render(scope), namespace=namespace)


def key_text(key: Any) -> str:
    """A computed key as text: a string as it is, anything else as JSON with sorted keys."""
    if isinstance(key, str):
        return key
    return orjson.dumps(values.decode(values.encode(key)), option=orjson.OPT_SORT_KEYS).decode()


def slot_of(
    ctx: Context, name: str, cache: Cache, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Slot:
    """The slot of a call of the step ``name`` with ``args`` and ``kwargs``."""
    if cache.key is None:
        raw: Any = {"args": list(args), "kwargs": kwargs}
    elif callable(cache.key):
        raw = cache.key(*args, **kwargs)
    else:
        raw = cache.key
    text = key_text(raw)
    scope = cache.namespace or f"{ctx.workflow}/{name}"
    digest = hashlib.sha256(text.encode()).hexdigest()
    return Slot(scope, digest, text[:KEY_SHOWN], cache.seconds)


async def consult(
    ctx: Context, call: _Call, cache: Cache, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Slot, bytes | None]:
    """The step's slot, and the cached output when its first attempt has not run yet and a live
    entry holds one (then the step is recorded as a hit). A key that cannot be computed fails
    the step (``StepFailed``, recorded with 0 attempts)."""
    try:
        slot = slot_of(ctx, call.name, cache, args, kwargs)
    except Exception as exc:
        await _fail(ctx, call, exc)
        raise StepFailed(ctx.run_id, call.key, values.error_info(exc)) from exc
    if call.recorded is not None:  # a retry of a miss: its attempts go on, uncached
        return slot, None
    now = ctx.clock.time()
    with working(ctx.clock):
        hit = await ctx.store.cached_output(ctx.org, slot.scope, slot.key_hash, now)
    _count(ctx, call.name, "hit" if hit is not None else "miss")
    if hit is None:
        return slot, None
    record = StepRecord(call.key, call.position, call.name, "step", "completed", 0, hit.output,
                        None, now, now, cached=True)  # fmt: skip
    with working(ctx.clock):
        await ctx.store.record_cache_hit(ctx.run_id, ctx.fence, record, ctx.org, slot.scope,
                                         slot.key_hash)  # fmt: skip
    return slot, hit.output


async def remember(ctx: Context, call: _Call, slot: Slot, output: bytes) -> None:
    """Store the output of a step that succeeded under its slot, live for the slot's ttl."""
    now = ctx.clock.time()
    entry = CacheEntry(ctx.org, slot.scope, slot.key_hash, slot.key_text, ctx.workflow,
                       call.name, output, ctx.run_id, now, now + slot.ttl)  # fmt: skip
    with working(ctx.clock):
        await ctx.store.put_cached_output(entry)


async def _fail(ctx: Context, call: _Call, exc: Exception) -> None:
    now = ctx.clock.time()
    error = values.encode(values.error_info(exc))
    record = StepRecord(call.key, call.position, call.name, "step", "failed", 0, None, error,
                        now, now)  # fmt: skip
    with working(ctx.clock):
        await ctx.store.record_step(ctx.run_id, ctx.fence, record)


def _count(ctx: Context, step: str, result: str) -> None:
    counts = CURRENT.get()
    if counts is not None:
        counts.inc("plait_step_cache_lookups_total", ctx.workflow, step, result)
