"""Secrets: values an organization keeps write-only (API tokens, passwords), read by runs as
``secrets.NAME`` in definitions and ``await ctx.secret("NAME")`` in code, and redacted from
everything a run records.

Values are sealed at rest (``plait.sealing``). A run opens the secrets it reads when it reads
them; each value it read is then replaced by its marker ``[secret:NAME]`` in what the run
writes to the store (step outputs and errors, the run's output and error, events it emits,
child inputs, tasks, published values, documents) and in the log lines plait writes for it.
"""

from __future__ import annotations

import contextvars
import dataclasses
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

import orjson

from plait import text
from plait.errors import ConfigurationError, LimitExceeded, SecretInvalid, SecretNotFound

if TYPE_CHECKING:
    from plait.sealing import Sealer
    from plait.store.base import Store

SCOPE_NAME = "secrets"
"""The name under which definitions read secrets: ``{{secrets.TOKEN}}``."""

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# Fields of run records that hold text a person reads (a task's title): redacted like payloads.
def check_name(name: str, max_length: int) -> str:
    """``name`` if it can name a secret: an identifier (``secrets.NAME`` reads it), at most
    ``max_length`` characters; else ``SecretInvalid`` or ``LimitExceeded``."""
    if len(name) > max_length:
        length, limit = f"{len(name)} characters", f"{max_length} characters"
        raise LimitExceeded("the secret's name", length, limit, "max_name_length", "$.body.name")
    if not _NAME.fullmatch(name):
        raise SecretInvalid("name", f"{_shown(name)} is not a name: use letters, digits and _, "
                            "not starting with a digit (e.g. STRIPE_KEY)")  # fmt: skip
    return name


def is_name(name: str) -> bool:
    """Whether ``name`` could name a secret (an organization has none by any other name)."""
    return _NAME.fullmatch(name) is not None


def check_value(value: str, max_bytes: int) -> bytes:
    """The UTF-8 bytes of ``value`` if it can be a secret's value: not empty, text plait
    stores (no NUL, no lone surrogate), at most ``max_bytes`` bytes; else ``SecretInvalid``,
    ``InvalidText`` or ``LimitExceeded``."""
    if not value:
        raise SecretInvalid("value", "a secret's value cannot be empty")
    text.check(value, "$.body.value")  # NUL or a lone surrogate: refused as everywhere
    data = value.encode("utf-8")
    if len(data) > max_bytes:
        raise LimitExceeded("the secret's value", f"{len(data):,} bytes", f"{max_bytes:,} bytes",
                            "max_secret_bytes", "$.body.value")  # fmt: skip
    return data


def _shown(name: str) -> str:
    return repr(name if len(name) <= 40 else name[:39] + "…")


def marker(name: str) -> str:
    """What a run's records show instead of the value of the secret ``name``."""
    return f"[secret:{name}]"


IDENTITY = frozenset(
    {"key", "name", "step_key", "run_id", "parent_run_id", "root_run_id", "org", "workflow",
     "workflow_id", "fence"}
)  # fmt: skip
"""Names of store arguments and record fields that identify (a step's key is compared with
the key the code computes on replay): never rewritten, whatever text they hold."""


class Redactor:
    """Replaces the values of secrets with their markers, in text, JSON and run records.

    While no secret has been added, every method returns its argument unchanged: a run that
    reads no secret pays nothing.
    """

    __slots__ = ("_encoded", "_ordered")

    def __init__(self) -> None:
        self._ordered: list[tuple[str, str]] = []
        """``(value, marker)``, longest value first (a value inside another is replaced after
        it)."""
        self._encoded: list[bytes] = []
        """Each value as it appears inside a JSON string (escapes included)."""

    def __bool__(self) -> bool:
        return bool(self._ordered)

    def add(self, name: str, value: str) -> None:
        """Redact ``value`` as the secret ``name``, and its URL-encoded forms too (an ``http``
        step's query string shows it encoded in a URL that a library logs or an error quotes)."""
        for form in dict.fromkeys((value, quote(value, safe=""), quote_plus(value))):
            if not form or any(v == form for v, _ in self._ordered):
                continue
            self._ordered.append((form, marker(name)))
            self._encoded.append(orjson.dumps(form)[1:-1])
        self._ordered.sort(key=lambda pair: len(pair[0]), reverse=True)

    def text(self, text: str) -> str:
        """``text`` with every value replaced by its marker."""
        for value, shown in self._ordered:
            if value in text:
                text = text.replace(value, shown)
        return text

    def value(self, value: Any) -> Any:
        """A JSON value with every string (and key) redacted (dicts and lists copied; a string
        in which no value occurs is returned as is)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value

    def json(self, data: bytes) -> bytes:
        """Encoded JSON with every value redacted; decoded only when a value occurs in it."""
        if not any(encoded in data for encoded in self._encoded):
            return data
        try:
            decoded = orjson.loads(data)
        except orjson.JSONDecodeError:
            return self.text(data.decode("utf-8", "replace")).encode("utf-8")
        return orjson.dumps(self.value(decoded))

    def record(self, arg: Any) -> Any:
        """An argument of a store write, redacted: encoded JSON, text (an event's type or id, a
        task's assignee), a mapping (a document), a dataclass whose fields (but the
        :data:`IDENTITY` ones) are redacted the same way, or a list of these. Anything in which
        no value occurs is returned as it is."""
        if not self._ordered:
            return arg
        if isinstance(arg, bytes):
            return self.json(arg)
        if isinstance(arg, str):
            return self.text(arg)
        if isinstance(arg, Mapping):
            return self.value(dict(arg))
        if isinstance(arg, list | tuple):
            items = [self.record(item) for item in arg]
            changed = any(new is not old for new, old in zip(items, arg, strict=True))
            return type(arg)(items) if changed else arg
        if dataclasses.is_dataclass(arg) and not isinstance(arg, type):
            changes = {}
            for spec in dataclasses.fields(arg):
                if spec.name in IDENTITY:
                    continue
                item = getattr(arg, spec.name)
                redacted = self.record(item)
                if redacted is not item and redacted != item:
                    changes[spec.name] = redacted
            return dataclasses.replace(arg, **changes) if changes else arg
        return arg


_current: contextvars.ContextVar[Redactor | None] = contextvars.ContextVar(
    "plait_redactor", default=None
)


def redacted(text: str) -> str:
    """``text`` with the values of the secrets the current run read replaced (for log lines;
    outside a run, unchanged)."""
    redactor = _current.get()
    return redactor.text(text) if redactor else text


def redacted_value(value: Any) -> Any:
    """A JSON value redacted as :func:`redacted` redacts text."""
    redactor = _current.get()
    return redactor.value(value) if redactor else value


def redacted_json(data: bytes) -> bytes:
    """Encoded JSON redacted as :func:`redacted` redacts text (an event a run's step emits
    through ``engine.events``)."""
    redactor = _current.get()
    return redactor.json(data) if redactor else data


class RunSecrets:
    """The secrets of one replay of a run: read from the store and opened each time they
    are read (so a replaced secret takes effect at the next read), each value remembered by the
    run's :class:`Redactor`."""

    def __init__(self, store: Store, org: str, redactor: Redactor | None = None) -> None:
        self.store = store
        self.org = org
        self.redactor = Redactor() if redactor is None else redactor  # empty is falsy
        self._sealer: Sealer | None = None

    def bind(self) -> contextvars.Token[Redactor | None]:
        """Make log lines written in this context (the run's task) redact this run's values."""
        return _current.set(self.redactor)

    async def read(self, name: str) -> str:
        """The value of the secret ``name``; ``SecretNotFound`` if the organization has none."""
        sealed = await self.store.sealed_secret(self.org, name) if is_name(name) else None
        if sealed is None:
            raise SecretNotFound(self.org, name)
        return self._remember(name, sealed)

    async def read_many(self, names: frozenset[str] | None) -> dict[str, str]:
        """The values of ``names`` (every secret of the organization when ``None``)."""
        if names is not None:
            return {name: await self.read(name) for name in sorted(names)}
        found = await self.store.sealed_secrets(self.org)
        return {name: self._remember(name, sealed) for name, sealed in found.items()}

    def _remember(self, name: str, sealed: str) -> str:
        value = self._open(name, sealed)
        self.redactor.add(name, value)
        return value

    def _open(self, name: str, sealed: str) -> str:
        # Imported here: ``cryptography`` is paid for by runs that read a secret, not by
        # ``import plait``.
        from plait.sealing import SECRET_KEY_ENV, SecretKeyMissing, sealer_from_env

        if self._sealer is None:
            try:
                self._sealer = sealer_from_env()
            except SecretKeyMissing as exc:
                raise ConfigurationError(
                    f"secret {name!r} cannot be read: {SECRET_KEY_ENV} is not set in the "
                    "environment of the worker that runs this step"
                ) from exc
        return self._sealer.open(sealed)
