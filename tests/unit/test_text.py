"""Which text plait stores (``plait.text``), and how ``plait.values`` refuses the rest."""

from __future__ import annotations

import dataclasses

import pytest

from plait import text, values
from plait.errors import InvalidText
from plait.text import UnstorableText


@dataclasses.dataclass
class Note:
    body: str


def test_flaw_names_the_character_and_its_index() -> None:
    assert text.flaw("ok \u200f😀") is None
    assert text.flaw("ab\x00") == "contains a NUL character (U+0000) at index 2"
    assert text.flaw("\udc80") == "contains a lone surrogate (U+DC80) at index 0"


def test_find_walks_keys_lists_and_dataclasses_with_readable_paths() -> None:
    assert text.find({"a": [1, {"b c": "x\x00"}]}) == (
        '$.a[1]["b c"]', "contains a NUL character (U+0000) at index 1")  # fmt: skip
    assert text.find({"a\ud800": 1}, "$.body") == (
        "$.body", "has a key that contains a lone surrogate (U+D800) at index 1")  # fmt: skip
    assert text.find([Note("fine"), Note("\x00")]) == (
        "$[1].body", "contains a NUL character (U+0000) at index 0")  # fmt: skip
    assert text.find({"a": ["fine", "😀"]}) is None


def test_find_has_no_recursion_limit() -> None:
    deep: object = "\x00"
    for _ in range(5_000):  # deeper than the interpreter's recursion limit
        deep = [deep]
    found = text.find(deep)
    assert found is not None and found[0].endswith("[0][0]")


def test_check_raises_invalid_text_with_the_path() -> None:
    text.check({"name": "Flow \u202e😀"})
    with pytest.raises(InvalidText) as refused:
        text.check({"steps": [{"id": "a\x00"}]})
    assert (refused.value.path, refused.value.reason) == (
        "$.steps[0].id", "contains a NUL character (U+0000) at index 1")  # fmt: skip


def test_values_refuse_nul_and_surrogates_naming_the_path() -> None:
    with pytest.raises(UnstorableText, match=r"the text at \$\.n\[0\] contains a NUL"):
        values.encode({"n": ["\x00"]})
    with pytest.raises(TypeError, match=r"the text at \$\.k contains a lone surrogate"):
        values.encode({"k": "\ud800"})


def test_values_keep_an_escaped_backslash_u0000_and_valid_unicode_exactly() -> None:
    tricky = {"literal": "\\u0000", "double": "\\\\u0000", "rtl": "\u200f\u05e9", "emoji": "🇳🇴"}
    assert values.decode(values.encode(tricky)) == tricky


def test_the_api_parses_a_body_only_when_its_bytes_may_hold_refused_text() -> None:
    """Emoji escaped as surrogate pairs (Python's json.dumps default) and raw UTF-8 are passed
    on without a parse; the escapes of NUL and of lone surrogates are caught."""
    import json

    from plait.api.middleware import _suspicious

    fine = {"name": "😀 é 한국어 \u200f", "n": 1}
    assert not _suspicious(json.dumps(fine).encode())
    assert not _suspicious(json.dumps(fine, ensure_ascii=False).encode())
    for bad in (b'{"a": "x\\u0000"}', b'{"a": "\\ud800"}', b'{"a": "\\ud800\\u0041"}',
                b'{"a": "\\udc00x"}', b'{"a": "\\uDBFF"}'):  # fmt: skip
        assert _suspicious(bad), bad
