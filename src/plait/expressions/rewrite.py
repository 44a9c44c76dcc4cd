"""Accept the brief's JavaScript expression forms by rewriting them into CEL.

A small tokenizer that knows string literals (single, double and triple quoted, raw and bytes
prefixes, backslash escapes) finds the forms CEL spells differently; text inside a string literal
is never changed:

=================  ========================  ==============================================
written            becomes                   why
=================  ========================  ==============================================
``a === b``        ``a == b``                CEL equality is already strict
``a !== b``        ``a != b``
``!!x``            ``truthy(x)``             JavaScript truthiness; ``!!!x`` is ``!truthy(x)``
``a.0``            ``a[0]``                  the brief's path syntax for list items
``a.$id``          ``a["$id"]``              ``$`` is not allowed in CEL identifiers
``undefined``      ``null``
=================  ========================  ==============================================

The operand of ``!!`` is what JavaScript's unary operator binds: a name, literal, parenthesised
expression, list or map, followed by member accesses, indexes and calls.

The same tokenizer reads the CEL text afterwards (``analyse``): the names an expression reads,
its member chains (for error messages and fast evaluation) and its nesting depth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TRUTHY = "truthy"
"""The function ``!!x`` is rewritten to call."""

_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+[uU]?|(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?[uU]?")
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")
_STRING_START = re.compile(r"(?:[rR][bB]?|[bB][rR]?)?(?:'''|\"\"\"|'|\")")
_OPERATORS = ("===", "!==", "==", "!=", "<=", ">=", "&&", "||")
_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = {")", "]", "}"}
_WORDS = frozenset({"in", "null", "true", "false"})  # cannot follow a "." in CEL


@dataclass(frozen=True, slots=True)
class Token:
    """One lexical token, ``start`` being its offset in the source text.

    ``kind`` is space, comment, string, number, ident, op (a multi-character operator), punct,
    index (the digits of a ``.0`` member access) or, after rewriting, subscript (``[0]``).
    """

    kind: str
    text: str
    start: int


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens; never fails (an unknown character is a ``punct`` token)."""
    tokens: list[Token] = []
    last: list[Token] = []  # the last two significant tokens, latest last
    i = 0
    while i < len(text):
        token = _next_token(text, i, last)
        tokens.append(token)
        if token.kind not in ("space", "comment"):
            last = [*last[-1:], token]
        i += len(token.text)
    return tokens


def _next_token(text: str, i: int, last: list[Token]) -> Token:
    ch = text[i]
    if ch.isspace():
        return Token("space", _match(_SPACE, text, i), i)
    if text.startswith("//", i):
        end = text.find("\n", i)
        return Token("comment", text[i : len(text) if end < 0 else end], i)
    quote = _STRING_START.match(text, i)
    if quote:
        return Token("string", text[i : _string_end(text, quote.end(), quote.group())], i)
    member_dot = len(last) == 2 and last[1].text == "." and ends_operand(last[0])
    if ch.isdigit() and member_dot:
        return Token("index", _match(_DIGITS, text, i), i)
    after_operand = bool(last) and ends_operand(last[-1])
    if ch.isdigit() or (ch == "." and text[i + 1 : i + 2].isdigit() and not after_operand):
        return Token("number", _match(_NUMBER, text, i), i)
    if ch.isalpha() or ch in "_$":
        return Token("ident", _match(_IDENT, text, i), i)
    for op in _OPERATORS:
        if text.startswith(op, i):
            return Token("op", op, i)
    return Token("punct", ch, i)


def ends_operand(token: Token) -> bool:
    """Whether ``token`` can end an operand, so that a ``.`` after it is a member access."""
    return token.kind in ("ident", "index", "string", "subscript") or token.text in (")", "]")


def _match(pattern: re.Pattern[str], text: str, i: int) -> str:
    found = pattern.match(text, i)
    return found.group() if found else text[i]


def _string_end(text: str, i: int, opening: str) -> int:
    """Offset just past the string literal whose body starts at ``i`` (end of text if open)."""
    raw = "r" in opening[:2].lower()
    quote = opening.lstrip("rRbB")
    while i < len(text):
        if text[i] == "\\" and not raw:
            i += 2
        elif text.startswith(quote, i):
            return i + len(quote)
        elif len(quote) == 1 and text[i] == "\n":
            return i
        else:
            i += 1
    return len(text)


@dataclass(frozen=True, slots=True)
class Translation:
    """The CEL text of an expression and how it maps back to the source.

    ``offsets[i]`` is the source offset of CEL character ``i`` (one extra entry for the end);
    ``truthy_names`` are the plain names used as ``!!name``, which read as false when unbound.
    """

    text: str
    offsets: tuple[int, ...]
    truthy_names: frozenset[str]


def rewrite(js: str) -> str:
    """Rewrite the brief's JavaScript forms in ``js`` into CEL; see the module docstring."""
    return translate(js).text


def translate(js: str) -> Translation:
    """Rewrite ``js`` into CEL and keep the offset map used to place CEL errors in the source."""
    tokens = _normalise(tokenize(js))
    opening: dict[int, list[tuple[str, int]]] = {}
    closing: dict[int, int] = {}
    dropped: set[int] = set()
    names: set[str] = set()
    pairs = _bracket_pairs(tokens)
    i = 0
    while i < len(tokens):
        bangs = _bang_run(tokens, i)
        start = _skip_space(tokens, bangs[-1] + 1) if len(bangs) >= 2 else i
        end = _operand_end(tokens, start, pairs) if len(bangs) >= 2 else None
        if end is None:
            i += 1
            continue
        dropped.update(range(i, start))  # the bangs and the spaces after them
        call = ("!" if len(bangs) % 2 else "") + TRUTHY + "("
        opening.setdefault(start, []).append((call, tokens[i].start))
        closing[end - 1] = closing.get(end - 1, 0) + 1
        operand = tokens[start]
        if end - start == 1 and operand.kind == "ident" and operand.text not in _WORDS:
            names.add(operand.text)
        i = start  # the operand may hold more ``!!``
    return _emit(js, tokens, opening, closing, dropped, frozenset(names))


def _normalise(tokens: list[Token]) -> list[Token]:
    """Apply the one-token rewrites (``===``, ``.0``, ``.$id``, ``undefined``).

    A member named like a CEL keyword (``a.in``) becomes an index (``a["in"]``) as well.
    """
    out: list[Token] = []
    dot = -1  # index in ``out`` of a member-access ``.`` awaiting its name, else -1
    for token in tokens:
        if token.kind in ("space", "comment"):
            out.append(token)
            continue
        if token.kind == "op" and token.text in ("===", "!=="):
            token = Token("op", token.text[:2], token.start)
        elif dot >= 0 and token.kind == "index":
            token = Token("subscript", f"[{token.text}]", out[dot].start)
            del out[dot:]
        elif dot >= 0 and token.kind == "ident" and ("$" in token.text or token.text in _WORDS):
            token = Token("subscript", f'["{token.text}"]', out[dot].start)
            del out[dot:]
        elif dot < 0 and token.kind == "ident" and token.text == "undefined":
            token = Token("ident", "null", token.start)
        dot = len(out) if token.kind == "punct" and token.text == "." else -1
        out.append(token)
    return out


def _bracket_pairs(tokens: list[Token]) -> dict[int, int]:
    """Index of each opening bracket's matching closer (unmatched openers are absent)."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    for i, token in enumerate(tokens):
        if token.kind != "punct":
            continue
        if token.text in _OPENERS:
            stack.append(i)
        elif token.text in _CLOSERS and stack and _OPENERS[tokens[stack[-1]].text] == token.text:
            pairs[stack.pop()] = i
    return pairs


def _bang_run(tokens: list[Token], i: int) -> list[int]:
    """Indexes of consecutive ``!`` tokens (spaces allowed between) starting at ``i``."""
    run: list[int] = []
    while i < len(tokens) and tokens[i].kind == "punct" and tokens[i].text == "!":
        run.append(i)
        i = _skip_space(tokens, i + 1)
    return run


def _skip_space(tokens: list[Token], i: int) -> int:
    while i < len(tokens) and tokens[i].kind in ("space", "comment"):
        i += 1
    return i


def _operand_end(tokens: list[Token], i: int, pairs: dict[int, int]) -> int | None:
    """End (exclusive) of the unary operand starting at ``i``, or None if there is none."""
    if i >= len(tokens):
        return None
    token = tokens[i]
    if token.kind == "punct" and token.text == "-":
        return _operand_end(tokens, _skip_space(tokens, i + 1), pairs)
    if token.kind in ("ident", "number", "string"):
        end = i + 1
    elif token.text in _OPENERS and i in pairs:
        end = pairs[i] + 1
    else:
        return None
    while True:
        after = _postfix_end(tokens, _skip_space(tokens, end), pairs)
        if after is None:
            return end
        end = after


def _postfix_end(tokens: list[Token], i: int, pairs: dict[int, int]) -> int | None:
    """End of one member access, index or call starting at ``i``, or None."""
    if i >= len(tokens):
        return None
    token = tokens[i]
    if token.kind == "subscript":
        return i + 1
    if token.kind == "punct" and token.text in ("(", "[") and i in pairs:
        return pairs[i] + 1
    if token.kind == "punct" and token.text == ".":
        name = _skip_space(tokens, i + 1)
        if name < len(tokens) and tokens[name].kind == "ident":
            return name + 1
    return None


def _emit(
    source: str,
    tokens: list[Token],
    opening: dict[int, list[tuple[str, int]]],
    closing: dict[int, int],
    dropped: set[int],
    names: frozenset[str],
) -> Translation:
    parts: list[str] = []
    offsets: list[int] = []
    for i, token in enumerate(tokens):
        for text, at in opening.get(i, ()):
            parts.append(text)
            offsets.extend([at] * len(text))
        if i not in dropped:
            parts.append(token.text)
            if token.kind in ("subscript", "op") or token.text == "null":
                offsets.extend([token.start] * len(token.text))
            else:
                offsets.extend(range(token.start, token.start + len(token.text)))
        count = closing.get(i, 0)
        if count:
            parts.append(")" * count)
            end = token.start + len(token.text)
            offsets.extend([end] * count)
    offsets.append(len(source))
    return Translation("".join(parts), tuple(offsets), names)


# Reading CEL text: the names it reads, its member chains, how deep it nests.

_MACROS = frozenset({"all", "exists", "exists_one", "existsOne", "map", "filter"})
_KEYWORDS = frozenset({"true", "false", "null", "in"})


@dataclass(frozen=True, slots=True)
class Chain:
    """A name followed by literal keys (``a.b["c"][0]``), starting at ``start`` in the CEL text.

    ``ends[k]`` is the offset where ``path[: k + 1]`` ends. ``in_has`` is set when the chain is
    the argument of ``has()`` (which needs its last key), ``dotted`` when it starts with ``.``.
    """

    path: tuple[str | int, ...]
    start: int
    ends: tuple[int, ...]
    in_has: bool = False
    dotted: bool = False


@dataclass(frozen=True, slots=True)
class Analysis:
    """What the tokens of a CEL text say.

    ``names`` are the free names it reads (not macro variables, functions or members),
    ``chains`` every free name with the literal keys that follow it, ``depth`` the deepest
    bracket nesting and ``deepest_at`` the CEL offset of the bracket that reached it.
    """

    names: frozenset[str]
    chains: tuple[Chain, ...]
    depth: int
    deepest_at: int


def analyse(text: str) -> Analysis:
    """Read the names, member chains and nesting of the CEL ``text``."""
    tokens = [t for t in tokenize(text) if t.kind not in ("space", "comment")]
    names: set[str] = set()
    chains: list[Chain] = []
    bound: list[str | None] = []  # per open bracket: the macro variable it binds, if any
    depth, deepest_at = 0, 0
    for i, token in enumerate(tokens):
        if token.kind == "punct" and token.text in _OPENERS:
            bound.append(_macro_variable(tokens, i))
            if len(bound) > depth:
                depth, deepest_at = len(bound), token.start
        elif token.kind == "punct" and token.text in _CLOSERS and bound:
            bound.pop()
        elif token.kind == "ident" and _is_free(tokens, i) and token.text not in bound:
            names.add(token.text)
            chains.append(_chain(tokens, i))
    return Analysis(frozenset(names), tuple(chains), depth, deepest_at)


def _macro_variable(tokens: list[Token], i: int) -> str | None:
    """The variable bound by a macro call ``x.all(v, ...)`` whose ``(`` is at ``i``."""
    if i < 2 or tokens[i - 1].text not in _MACROS or tokens[i - 2].text != ".":
        return None
    if i + 2 < len(tokens) and tokens[i + 1].kind == "ident" and tokens[i + 2].text == ",":
        return tokens[i + 1].text
    return None


def _is_free(tokens: list[Token], i: int) -> bool:
    """An identifier that names a variable: not a member, not a function, not a keyword."""
    if tokens[i].text in _KEYWORDS:
        return False
    if i > 0 and tokens[i - 1].kind == "punct" and tokens[i - 1].text == ".":
        return i < 2 or not ends_operand(tokens[i - 2])  # ``.name`` is a root-scoped name
    return not (i + 1 < len(tokens) and tokens[i + 1].text == "(")


def _chain(tokens: list[Token], i: int) -> Chain:
    """The name at ``i`` and the literal keys that follow it."""
    path: list[str | int] = [tokens[i].text]
    ends = [tokens[i].start + len(tokens[i].text)]
    j = i + 1
    while j + 1 < len(tokens):
        token, following = tokens[j], tokens[j + 1]
        closer = tokens[j + 2] if j + 2 < len(tokens) else None
        if token.text == "." and following.kind == "ident":
            if closer is not None and closer.text == "(":
                break  # a method call: ``a.b.startsWith("x")``
            path.append(following.text)
            ends.append(following.start + len(following.text))
            j += 2
        elif token.text == "[" and closer is not None and closer.text == "]":
            key = _literal_key(following)
            if key is None:
                break
            path.append(key)
            ends.append(closer.start + 1)
            j += 3
        else:
            break
    in_has = i >= 2 and tokens[i - 1].text == "(" and tokens[i - 2].text == "has"
    dotted = i > 0 and tokens[i - 1].text == "."
    return Chain(tuple(path), tokens[i].start, tuple(ends), in_has, dotted)


def _literal_key(token: Token) -> str | int | None:
    text = token.text
    if token.kind == "number" and text.isdigit():
        return int(text)
    quoted = len(text) >= 2 and text[0] in "'\"" and text[:3] not in ("'''", '"""')
    if token.kind == "string" and quoted and "\\" not in text:
        return text[1:-1]
    return None


def substitute(
    text: str, chains: tuple[Chain, ...], prefix: str
) -> tuple[str, dict[str, tuple[str | int, ...]]]:
    """Replace member chains in the CEL ``text`` by variables ``{prefix}0``, ``{prefix}1``...

    Returns the new text and, per variable, the chain it stands for. A chain that is the
    argument of ``has()`` keeps its last key (``has(v0.c)``); a chain without keys, or one after
    a leading dot, is left alone.
    """
    names: dict[tuple[str | int, ...], str] = {}
    parts: list[str] = []
    at = 0
    for chain in chains:
        length = len(chain.path) - (1 if chain.in_has else 0)
        if length < 2 or chain.dotted:
            continue
        name = names.setdefault(chain.path[:length], f"{prefix}{len(names)}")
        parts += [text[at : chain.start], name]
        at = chain.ends[length - 1]
    parts.append(text[at:])
    return "".join(parts), {name: path for path, name in names.items()}
