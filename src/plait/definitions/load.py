"""Load a declarative workflow: parse JSON or YAML, detect its dialect, normalise, validate.

    result = check_definition(Path("onboarding.yaml"), actions=engine.actions.known)
    for problem in result.errors:
        print(problem)            # $.steps[2].dependsOn[0]: unknown step 'shiping'
    definition = load_definition(document)   # raises InvalidDefinition listing every problem

Every problem of a document is reported at once, each at the JSON path the author wrote.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from plait.definitions.dialects import (
    Normalised,
    canonical,
    decode_json,
    entity,
    function,
    graph,
    machine,
    service,
)
from plait.definitions.model import Definition
from plait.definitions.validate import Findings, InvalidDefinition, Problem, validate

__all__ = [
    "CheckResult",
    "InvalidDefinition",
    "Problem",
    "check_definition",
    "detect_dialect",
    "load_definition",
    "parse_document",
]

Normaliser = Callable[[dict[str, Any], Findings], Normalised]
DIALECTS: dict[str, Normaliser] = {
    "canonical": canonical.normalise,
    "entity": entity.normalise,
    "function": function.normalise,
    "service": service.normalise,
    "graph": graph.normalise,
    "machine": machine.normalise,
}


@dataclass
class CheckResult:
    """The outcome of checking a document. ``definition`` is set only when there is no error."""

    definition: Definition | None
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors


def parse_document(text: str, filename: str | None = None) -> dict[str, Any]:
    """Parse a definition: JSON or YAML by the file's extension, else JSON, then YAML.

    Raises:
        InvalidDefinition: a syntax error (with its line and column) or a top level that is not
            an object; the problem is at ``$``.
    """
    suffix = Path(filename).suffix.lower() if filename else ""
    if suffix == ".json":
        value = _json(text)
    elif suffix in (".yaml", ".yml"):
        value = _yaml(text)
    else:
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            looks_json = text.lstrip().startswith(("{", "["))
            value = _json(text) if looks_json else _yaml(text)
    if value is None:
        raise InvalidDefinition([Problem("$", "the document is empty")])
    if not isinstance(value, dict):
        what = type(value).__name__
        raise InvalidDefinition([Problem("$", f"expected an object at the top, got a {what}")])
    return value


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise InvalidDefinition([Problem("$", f"invalid JSON at {where}: {exc.msg}")]) from exc


class _Loader(yaml.SafeLoader):
    """Safe YAML without timestamps: ``2024-01-01`` stays a string, as in JSON. Booleans are
    YAML 1.2's ``true``/``false`` only, so a state machine's ``on:`` stays the key ``"on"``."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
for _first in "yYnNoO":  # YAML 1.1 also read yes/no/on/off as booleans
    _Loader.yaml_implicit_resolvers[_first] = [
        (tag, regexp)
        for tag, regexp in _Loader.yaml_implicit_resolvers.get(_first, [])
        if tag != "tag:yaml.org,2002:bool"
    ]


def _yaml(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidDefinition([Problem("$", f"invalid YAML{where}: {problem}")]) from exc


def detect_dialect(document: dict[str, Any], findings: Findings) -> str | None:
    """Which dialect ``document`` is written in; ``None`` (and an error) when it cannot tell.

    ``nodes`` means a node graph; ``states`` a state machine. Otherwise the
    steps decide: ``kind`` canonical, ``action`` entity, ``type`` service, ``function`` function
    steps, and bare ``{id, name}`` steps service steps. ``"dialect": ...`` overrides all this.
    """
    steps = document.get("steps")
    if isinstance(steps, list) and any(isinstance(s, dict) and "kind" in s for s in steps):
        return "canonical"  # also a dump of a normalised definition, whatever its `dialect`
    declared = document.get("dialect")
    if isinstance(declared, str) and declared in DIALECTS:
        return declared
    if "nodes" in document:
        return "graph"
    if "states" in document:
        return "machine"
    if steps is None or steps == []:
        findings.error("$.steps", "a workflow needs at least one step")
        return None
    if not isinstance(steps, list):
        findings.error("$.steps", "expected a list of steps")
        return None
    items = [step for step in steps if isinstance(step, dict)]
    for key, dialect in (("action", "entity"), ("type", "service"),
                         ("function", "function"), ("id", "service")):  # fmt: skip
        if any(key in step for step in items):
            return dialect
    findings.error(
        "$.steps",
        "cannot tell the dialect: no step has 'action' (entity), 'function' (function steps), "
        "'type' or 'id' (service steps) or 'kind' (canonical); nor has the document 'nodes'",
    )
    return None


def check_definition(
    document: dict[str, Any] | str | Path | Definition,
    *,
    actions: Callable[[str], bool] | None = None,
) -> CheckResult:
    """Read and check a definition in any dialect, collecting every problem.

    Args:
        document: a parsed document, its JSON/YAML text, a file path, or a canonical definition.
        actions: tells whether an action name is known; ``None`` skips that check (a draft).
    """
    findings = Findings()
    normalised = _normalise(document, findings)
    if normalised.definition is not None:
        validate(
            normalised.definition,
            findings,
            actions=actions,
            sources=normalised.sources,
            unreadable=frozenset(normalised.unreadable),
        )
    definition = None if findings.errors else normalised.definition
    return CheckResult(definition, findings.errors, findings.warnings)


def load_definition(
    document: dict[str, Any] | str | Path | Definition,
    *,
    actions: Callable[[str], bool] | None = None,
) -> Definition:
    """Read, normalise and validate a definition.

    Raises:
        InvalidDefinition: listing every error (and the warnings) when there is any error.
    """
    result = check_definition(document, actions=actions)
    if result.definition is None:
        raise InvalidDefinition(result.errors, result.warnings)
    return result.definition


def _normalise(
    document: dict[str, Any] | str | Path | Definition, findings: Findings
) -> Normalised:
    if isinstance(document, Definition):
        return Normalised(document)
    try:
        parsed = _parse(document)
    except InvalidDefinition as exc:
        findings.errors.extend(exc.problems)
        return Normalised(None)
    parsed = dict(parsed)
    decode_json(parsed, "steps", findings)
    dialect = detect_dialect(parsed, findings)
    if dialect is None:
        return Normalised(None)
    return DIALECTS[dialect](parsed, findings)


def _parse(document: dict[str, Any] | str | Path) -> dict[str, Any]:
    if isinstance(document, dict):
        return document
    if isinstance(document, str):
        return parse_document(document)
    try:
        text = document.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidDefinition([Problem("$", f"cannot read {document}: {exc}")]) from exc
    return parse_document(text, str(document))
