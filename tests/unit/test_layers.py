"""plait's layers hold as ``docs/architecture.md`` draws them, so the diagram cannot rot.

The doc's ``layers`` block lists the layers top to bottom and the packages (or top-level modules)
in each; its ``layer-exceptions`` block lists the upward imports the code still has, each with a
reason. A module may import its own layer and every layer below; an upward import fails unless an
exception allows it, and an exception that no import needs any more fails too (remove it from
the doc). Every package and top-level module under ``src/plait`` must be placed in one layer.

Imports are read with ``ast`` wherever they are: at the top, inside functions, and under
``if TYPE_CHECKING:`` (a type-only import still ties the layers together).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
PACKAGE = SRC / "plait"
DOC = ROOT / "docs" / "architecture.md"

# Interfaces parse, call the service layer and render: none may reach the store (issue 11).
STORELESS = ("plait.api", "plait.cli", "plait.console", "plait.mcp")


@dataclass(frozen=True)
class Import:
    source: str
    """The importing module, dotted (``plait.api.routes.runs``)."""
    target: str
    """The imported module, dotted, as far as it resolves to a file (``plait.store.base``)."""
    path: Path
    line: int

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}: {self.source} imports {self.target}"


@dataclass(frozen=True)
class Exception_:
    source: str
    target: str
    reason: str

    def allows(self, found: Import) -> bool:
        return _within(found.source, self.source) and _within(found.target, self.target)


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


# -- reading the code ---------------------------------------------------------------------------


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def exists(module: str) -> bool:
    base = SRC.joinpath(*module.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def resolve(module: str) -> str:
    """``module`` cut to its longest prefix that is a module of plait (``plait.store.base.X``
    -> ``plait.store.base``; a name imported from a package -> the package)."""
    parts = module.split(".")
    while len(parts) > 1 and not exists(".".join(parts)):
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> Iterator[Import]:
    """Every import of a plait module in ``path``, at any depth of its syntax tree."""
    source = module_name(path)
    package = source.split(".") if path.name == "__init__.py" else source.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *filter(None, [base])])
            targets = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            if _within(target, "plait"):
                yield Import(source, resolve(target), path, node.lineno)


def all_imports() -> list[Import]:
    return [found for path in sorted(PACKAGE.rglob("*.py")) for found in imports(path)]


def placeable() -> set[str]:
    """The names the diagram must place: ``plait`` (its ``__init__``), every subpackage and every
    top-level module."""
    names = {"plait"}
    for entry in PACKAGE.iterdir():
        if entry.suffix == ".py" and entry.stem != "__init__":
            names.add(f"plait.{entry.stem}")
        elif (entry / "__init__.py").is_file():
            names.add(f"plait.{entry.name}")
    return names


# -- reading the doc ----------------------------------------------------------------------------


def block(kind: str) -> list[str]:
    """The non-blank, non-comment lines of the doc's fenced block ```` ```kind ````."""
    text = DOC.read_text(encoding="utf-8")
    found = re.search(rf"^```{re.escape(kind)}\n(.*?)^```", text, re.S | re.M)
    assert found, f"{DOC.name} has no ```{kind} block"
    lines = (line.split("#", 1)[0].strip() for line in found.group(1).splitlines())
    return [line for line in lines if line]


def layers() -> list[tuple[str, list[str]]]:
    """``(layer, names)`` top to bottom; a name ending in ``?`` may be absent (planned, or being
    moved away)."""
    parsed = []
    for line in block("layers"):
        layer, _, names = line.partition(":")
        assert names, f"a layers line is 'layer: name name ...', not {line!r}"
        parsed.append((layer.strip(), names.split()))
    return parsed


def rank() -> dict[str, int]:
    """The layer of each placed name: 0 is the top."""
    ranks: dict[str, int] = {}
    for depth, (_, names) in enumerate(layers()):
        for name in names:
            name = name.rstrip("?")
            assert name not in ranks, f"{name} is placed twice"
            ranks[name] = depth
    return ranks


def known_exceptions() -> list[Exception_]:
    parsed = []
    for line in block("layer-exceptions"):
        found = re.fullmatch(r"(\S+)\s*->\s*(\S+)\s*:\s*(.+)", line)
        assert found, f"an exception is 'source -> target: reason', not {line!r}"
        parsed.append(Exception_(*found.groups()))
    return parsed


def layer_of(module: str, ranks: dict[str, int]) -> int | None:
    """The layer of ``module``; ``None`` if the diagram misses its package (another test says
    so)."""
    return ranks.get(".".join(module.split(".")[:2]))


def upward(found: list[Import], ranks: dict[str, int]) -> list[Import]:
    def higher(i: Import) -> bool:
        source, target = layer_of(i.source, ranks), layer_of(i.target, ranks)
        return source is not None and target is not None and target < source

    return [i for i in found if higher(i)]


def listing(found: list[Import]) -> str:
    return "\n".join(dict.fromkeys(str(i) for i in found))  # one line per import statement


# -- the checks ---------------------------------------------------------------------------------


def test_no_interface_imports_the_store() -> None:
    offenders = [
        found
        for found in all_imports()
        if any(_within(found.source, interface) for interface in STORELESS)
        and _within(found.target, "plait.store")
    ]
    if offenders:
        pytest.fail("interfaces reach the store (call the service layer):\n" + listing(offenders))


def test_the_diagram_places_every_package_once() -> None:
    ranks = rank()
    missing = sorted(placeable() - set(ranks))
    assert not missing, f"add these to the layers block of {DOC.name}: {missing}"
    stale = sorted(
        name.rstrip("?")
        for _, names in layers()
        for name in names
        if not name.endswith("?") and not exists(name)
    )
    assert not stale, f"the layers block of {DOC.name} names what does not exist: {stale}"


def test_no_module_imports_a_higher_layer() -> None:
    ranks = rank()
    allowed = known_exceptions()
    offenders = [
        found
        for found in upward(all_imports(), ranks)
        if not any(exception.allows(found) for exception in allowed)
    ]
    if offenders:
        pytest.fail(
            f"imports of a higher layer (fix them, or add a reasoned exception to {DOC.name}):\n"
            + listing(offenders)
        )


def test_every_known_exception_is_still_needed() -> None:
    needed = upward(all_imports(), rank())
    unused = [
        f"{e.source} -> {e.target}"
        for e in known_exceptions()
        if not any(e.allows(found) for found in needed)
    ]
    assert not unused, f"remove these from the layer-exceptions block of {DOC.name}: {unused}"
