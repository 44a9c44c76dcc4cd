"""A small recursive-descent reader of CEL text into a minimal syntax tree, for cost estimates.

It reads CEL as the runtime does (precedence, macros, literals), on top of the tokenizer of
``rewrite``, and keeps only what the cost of an expression depends on. It runs on texts the CEL
compiler has already accepted, so it reports a problem with ``SyntaxProblem`` and no position.
"""

from __future__ import annotations

from dataclasses import dataclass

from plait.expressions.rewrite import tokenize


class SyntaxProblem(ValueError):
    """The text is not CEL this reader understands."""


@dataclass(frozen=True, slots=True)
class Literal:
    """A literal; ``length`` is the character count of a string or bytes literal, else 0;
    ``key`` its value when it can be a literal key of a member chain (``a[0]``, ``a["b"]``)."""

    kind: str  # number, string, bytes, bool, null
    length: int = 0
    key: str | int | None = None
    text: str = ""
    """The body of a string literal between its quotes, escapes as written."""


@dataclass(frozen=True, slots=True)
class Name:
    name: str


@dataclass(frozen=True, slots=True)
class Member:
    target: Node
    field: str


@dataclass(frozen=True, slots=True)
class Index:
    target: Node
    key: Node


@dataclass(frozen=True, slots=True)
class Call:
    """``name(args)`` or, with a target, ``target.name(args)``."""

    target: Node | None
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class ListOf:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class MapOf:
    entries: tuple[tuple[Node, Node], ...]


@dataclass(frozen=True, slots=True)
class Unary:
    op: str
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Choice:
    """``test ? then : otherwise``."""

    test: Node
    then: Node
    otherwise: Node


Node = Literal | Name | Member | Index | Call | ListOf | MapOf | Unary | Binary | Choice

_RELATIONS = frozenset({"==", "!=", "<", "<=", ">", ">=", "in"})


def parse(text: str) -> Node:
    """The syntax tree of the CEL ``text``.

    Raises:
        SyntaxProblem: the text is not CEL (or uses a form this reader does not know).
    """
    reader = _Reader(_significant(text))
    node = reader.expression()
    if reader.peek() is not None:
        raise SyntaxProblem(f"unexpected {reader.peek()!r}")
    return node


def _significant(text: str) -> list[str]:
    """The token texts, without spaces and comments."""
    return [t.text for t in tokenize(text) if t.kind not in ("space", "comment")]


class _Reader:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.at = 0

    def peek(self, ahead: int = 0) -> str | None:
        i = self.at + ahead
        return self.tokens[i] if i < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise SyntaxProblem(f"expected {expected or 'more'}, found {token!r}")
        self.at += 1
        return token

    def expression(self) -> Node:
        test = self.binary(0)
        if self.peek() != "?":
            return test
        self.take("?")
        then = self.binary(0)
        self.take(":")
        return Choice(test, then, self.expression())

    def binary(self, level: int) -> Node:
        """One precedence level of binary operators: ``||``, ``&&``, relations, ``+ -``,
        ``* / %``; below them the unary operators."""
        if level == len(_LEVELS):
            return self.unary()
        node = self.binary(level + 1)
        while self.peek() in _LEVELS[level]:
            op = self.take()
            node = Binary(op, node, self.binary(level + 1))
        return node

    def unary(self) -> Node:
        if self.peek() in ("!", "-"):
            op = self.take()
            return Unary(op, self.unary())
        return self.postfix(self.primary())

    def postfix(self, node: Node) -> Node:
        while True:
            token = self.peek()
            if token == ".":
                self.take()
                name = self.identifier()
                if self.peek() == "(":
                    node = Call(node, name, self.arguments(")"))
                else:
                    node = Member(node, name)
            elif token == "[":
                self.take()
                key = self.expression()
                self.take("]")
                node = Index(node, key)
            else:
                return node

    def primary(self) -> Node:
        token = self.take()
        if token == "(":
            node = self.expression()
            self.take(")")
            return node
        if token == "[":
            return ListOf(self.arguments("]", opened=True))
        if token == "{":
            return MapOf(self.entries())
        if token == ".":
            return self.named(self.identifier())
        literal = _literal(token)
        if literal is not None:
            return literal
        if not (token[:1].isalpha() or token[:1] == "_"):
            raise SyntaxProblem(f"unexpected {token!r}")
        return self.named(token)

    def named(self, name: str) -> Node:
        """A name, a global call, or a message construction ``Type{field: value}``."""
        if self.peek() == "(":
            return Call(None, name, self.arguments(")"))
        if self.peek() == "{":
            self.take()
            return MapOf(self.entries())
        return Name(name)

    def identifier(self) -> str:
        token = self.take()
        if not (token[:1].isalpha() or token[:1] == "_"):
            raise SyntaxProblem(f"expected a name, found {token!r}")
        return token

    def arguments(self, closer: str, opened: bool = False) -> tuple[Node, ...]:
        if not opened:
            self.take("(")
        items: list[Node] = []
        while self.peek() != closer:
            items.append(self.expression())
            if self.peek() != closer:
                self.take(",")
        self.take(closer)
        return tuple(items)

    def entries(self) -> tuple[tuple[Node, Node], ...]:
        entries: list[tuple[Node, Node]] = []
        while self.peek() != "}":
            key = self.expression()
            self.take(":")
            entries.append((key, self.expression()))
            if self.peek() != "}":
                self.take(",")
        self.take("}")
        return tuple(entries)


_LEVELS: tuple[frozenset[str], ...] = (
    frozenset({"||"}),
    frozenset({"&&"}),
    _RELATIONS,
    frozenset({"+", "-"}),
    frozenset({"*", "/", "%"}),
)


def _literal(token: str) -> Literal | None:
    if token in ("true", "false"):
        return Literal("bool")
    if token == "null":
        return Literal("null")
    if token[:1].isdigit() or (token[:1] == "." and token[1:2].isdigit()):
        return Literal("number", key=int(token) if token.isdigit() else None)
    prefix = len(token) - len(token.lstrip("rRbB"))
    if prefix <= 2 and token[prefix : prefix + 1] in ("'", '"'):
        kind = "bytes" if "b" in token[:prefix].lower() else "string"
        triple = token[prefix : prefix + 3] in ("'''", '"""')
        body = token[prefix + 3 : -3] if triple else token[prefix + 1 : -1]
        plain = prefix == 0 and not triple and "\\" not in token
        return Literal(kind, len(body), body if plain else None, body)
    return None
