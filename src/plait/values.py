"""Values as stored: JSON (via orjson), never pickle.

Inputs, step outputs and run outputs are encoded once and decoded back, so a workflow sees the
same value on its first replay as on every later one (a dataclass comes back as a dict).
"""

from __future__ import annotations

import dataclasses
import json
import math
import traceback as tb
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import orjson

from plait import text

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


def _default(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)  # pydantic v2 models, without importing pydantic
    if callable(dump):
        return dump(mode="json")
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    raise TypeError(f"Type is not JSON serializable: {type(value).__qualname__}")


def encode(value: Any) -> bytes:
    """Encode ``value`` as JSON; raises ``TypeError`` naming the offending type, or
    :class:`~plait.text.UnstorableText` (a ``TypeError``) naming the path of a string holding
    NUL or a lone surrogate, which plait refuses on every backend (see ``plait.text``)."""
    try:
        data = orjson.dumps(value, default=_default, option=_OPTIONS)
    except orjson.JSONEncodeError as exc:
        refused = text.refusal(None, value) if "surrogates" in str(exc) else None
        if refused is not None:
            raise refused from exc
        raise
    refused = text.refusal(data, value)
    if refused is not None:
        raise refused
    # orjson writes NaN and the infinities as null, silently: they can only be there if null is.
    if b"null" in data and not _all_finite(value, data):
        where = non_finite(value) or ("$", "NaN or an infinity")
        raise NonFiniteNumber(*where)
    return data


def _all_finite(value: Any, data: bytes) -> bool:
    """Whether ``value``, encoded as ``data``, holds no NaN or infinity. At C speed: plain JSON
    values equal their decoding unless a float became null; others (tuples, dataclasses,
    models) go through the standard library's encoder, which refuses non-finite floats."""
    if orjson.loads(data) == value:  # orjson reads what it wrote
        return True
    try:
        _STRICT.encode(value)
    except ValueError:
        return False
    return True


def _plain(value: Any) -> Any:
    """For the strict encoder: what orjson encodes a non-JSON value as, near enough to find a
    float in it (its contents are all that matter)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump()
    return list(value) if isinstance(value, set | frozenset) else None


_STRICT = json.JSONEncoder(allow_nan=False, check_circular=False, default=_plain)


class NonFiniteNumber(TypeError):
    """A float in a value to be stored is NaN or infinite, which JSON cannot hold.

    A ``TypeError`` like orjson's own encoding errors, so every caller of :func:`encode` reports
    it as a ``SerializationError`` naming the value (a step's result fails its step).
    """

    def __init__(self, path: str, name: str) -> None:
        self.path = path
        super().__init__(f"the number at {path} is {name}, which JSON cannot hold")


def non_finite(value: Any, root: str = "$") -> tuple[str, str] | None:
    """``(path, "NaN" | "Infinity" | "-Infinity")`` of the first non-finite float, else None."""
    pending: list[tuple[str, Any]] = [(root, value)]
    while pending:
        path, item = pending.pop()
        if type(item) is float and not math.isfinite(item):
            return path, "NaN" if math.isnan(item) else "-Infinity" if item < 0 else "Infinity"
        if dataclasses.is_dataclass(item) and not isinstance(item, type):
            item = _plain(item)
        if isinstance(item, dict):
            pending.extend((text.join(path, k), v) for k, v in reversed(item.items()))
        elif isinstance(item, list | tuple):
            pending.extend((f"{path}[{i}]", v) for i, v in reversed(list(enumerate(item))))
    return None


def decode(data: bytes | str | None) -> Any:
    """Decode stored JSON (``None`` stays ``None``)."""
    return None if data is None else orjson.loads(data)


def offending_type(value: Any) -> str:
    """Name the innermost value inside ``value`` that cannot be encoded (for error messages)."""
    if isinstance(value, dict):
        children: list[Any] = [*value.keys(), *value.values()]
    elif isinstance(value, list | tuple):
        children = list(value)
    else:
        return type(value).__qualname__
    for child in children:
        if not _encodes(child):
            return offending_type(child)
    return type(value).__qualname__


def _encodes(value: Any) -> bool:
    try:
        encode(value)
    except TypeError:
        return False
    return True


STEP_LOCATION: ContextVar[Callable[[BaseException], str] | None] = ContextVar(
    "plait_step_location", default=None
)
"""Set by the interpreter while a declarative step runs: where in its definition an error of
the step is (``$.steps[2].input.email``). Such errors record that ``path``, not the engine's
frames (see ``plait.interpreter.located``)."""


def error_info(exc: BaseException) -> dict[str, Any]:
    """What is stored of an exception: its type, message and formatted traceback; for an error
    of a declarative step, its definition path instead of the traceback."""
    cls = type(exc)
    name = (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )
    locate = STEP_LOCATION.get()
    if locate is not None:
        return {"type": name, "message": str(exc), "path": locate(exc)}
    return {
        "type": name,
        "message": str(exc),
        "traceback": "".join(tb.format_exception(exc)),
    }
