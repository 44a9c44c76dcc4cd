"""Which text plait stores: every Unicode string except those holding NUL or a lone surrogate.

PostgreSQL's text columns cannot hold NUL (U+0000), and a lone surrogate (U+D800 to U+DFFF, not
part of a pair) is not encodable as UTF-8 at all, so neither backend can store such a string as
given. Rather than answer differently per backend (or fail deep inside a write), plait refuses
both wherever a string arrives: the REST API (query, path, headers and JSON bodies), the CLI, and
values going to the store (run inputs and outputs, event data, step results). Everything else,
RTL marks, zero-width joiners and 4-byte emoji included, is stored and returned exactly.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

import orjson

from plait.errors import InvalidText

__all__ = [
    "InvalidText",
    "UnstorableText",
    "check",
    "check_all",
    "check_params",
    "find",
    "flaw",
    "join",
    "refusal",
]

_REFUSED = re.compile("[\x00\ud800-\udfff]")
_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*\Z")  # as plait.definitions spells paths
_NUL_ESCAPE = b"\\u0000"


class UnstorableText(TypeError):
    """A string inside a value to be stored is refused (see :func:`flaw`).

    A ``TypeError``, like orjson's own encoding errors, so that each caller of
    ``plait.values.encode`` reports it as a ``SerializationError`` naming the value.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(
            f"the text at {path} {reason}; plait does not store NUL or lone surrogates"
        )


def flaw(text: str) -> str | None:
    """Why ``text`` cannot be stored (``contains a NUL character (U+0000) at index 3``), or
    ``None`` when it can."""
    found = _REFUSED.search(text)
    if found is None:
        return None
    code = ord(found.group())
    what = "a NUL character" if code == 0 else "a lone surrogate"
    return f"contains {what} (U+{code:04X}) at index {found.start()}"


def find(value: Any, root: str = "$") -> tuple[str, str] | None:
    """The first refused string in a JSON-like ``value`` (keys included): ``(path, reason)``.

    Walks dicts, lists, tuples and dataclasses without recursion (any depth); a refused key is
    reported at the path of its object, since the path cannot spell the key itself.
    """
    pending: list[tuple[str, Any]] = [(root, value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, str):
            reason = flaw(item)
            if reason is not None:
                return path, reason
        elif isinstance(item, dict):
            for key in item:
                reason = flaw(key) if isinstance(key, str) else None
                if reason is not None:
                    return path, f"has a key that {reason}"
            pending.extend((join(path, k), v) for k, v in reversed(item.items()))
        elif isinstance(item, list | tuple):
            pending.extend((f"{path}[{i}]", v) for i, v in reversed(list(enumerate(item))))
        elif dataclasses.is_dataclass(item) and not isinstance(item, type):
            fields = dataclasses.fields(item)
            pending.extend((join(path, f.name), getattr(item, f.name)) for f in reversed(fields))
    return None


def check(value: Any, root: str = "$") -> None:
    """Raise :class:`~plait.errors.InvalidText` naming the first refused string in ``value``.

    Cheap for large documents: one orjson encoding (C speed) finds nothing to refuse in the
    common case; only a suspicious encoding is walked in Python for the path.
    """
    if isinstance(value, str):
        reason = flaw(value)
        if reason is not None:
            raise InvalidText(root, reason)
        return
    if value is None or not _suspicious(value):
        return
    found = find(value, root)
    if found is not None:
        raise InvalidText(*found)


def check_params(params: Mapping[str, Any]) -> None:
    """The store's last line: refuse a query parameter holding NUL or a lone surrogate.

    Every interface refuses such text where it arrives, naming its JSON path; this catches the
    rest (a Python caller's schedule, assignee or reason) so that both backends give the same
    :class:`~plait.errors.InvalidText` instead of PostgreSQL's error or SQLite's silence. Cheap:
    ``isascii`` is O(1) in CPython and ``in`` is a memchr; only non-ASCII text meets the regex.
    """
    for name, value in params.items():
        if type(value) is str and (
            "\x00" in value if value.isascii() else _REFUSED.search(value) is not None
        ):
            raise InvalidText(f"$.{name}", flaw(value) or "")


def check_all(named: dict[str, Any], root: str = "$") -> None:
    """:func:`check` each value of ``named`` at ``root.<name>`` (arguments of one call)."""
    for name, value in named.items():
        check(value, join(root, name))


def refusal(data: bytes | None, value: Any) -> UnstorableText | None:
    """For ``plait.values``: the :class:`UnstorableText` to raise for ``value``, whose orjson
    encoding is ``data`` (``None`` when orjson refused it), or ``None`` when nothing is refused.

    A NUL shows in the encoding as the escape ``\\u0000`` (a false alarm when the backslash is
    itself escaped, ``\\\\u0000``: the walk then finds nothing); orjson refuses lone surrogates.
    """
    if data is not None and _NUL_ESCAPE not in data:
        return None
    found = find(value if data is None else orjson.loads(data))
    return None if found is None else UnstorableText(*found)


def _suspicious(value: Any) -> bool:
    try:
        return _NUL_ESCAPE in orjson.dumps(value)
    except TypeError:  # a lone surrogate, or a value that is not JSON: walk it
        return True


def join(path: str, key: Any) -> str:
    """``path`` extended by a key (``.name`` or ``["odd-name"]``) or a list index (``[2]``)."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    key = str(key)
    if _IDENTIFIER.match(key):
        return f"{path}.{key}"
    return f"{path}[" + orjson.dumps(key).decode() + "]"
