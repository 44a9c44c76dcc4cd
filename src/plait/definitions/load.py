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

from plait.definitions import flow, metrics, pricing, step_cache, step_limits
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
from plait.definitions.fallbacks import missing_fallbacks
from plait.definitions.limits import check_document, check_model, check_text
from plait.definitions.model import Definition
from plait.definitions.outputs import check_output
from plait.definitions.validate import (
    DefinitionLimitExceeded,
    Findings,
    InvalidDefinition,
    Problem,
    validate,
)
from plait.definitions.yaml_scan import check_aliases, scan, self_alias
from plait.expressions.cost import cost_limit
from plait.settings import Settings

SERVICE_KEYS = ("schedule", "filter", "debounce", "tests")
"""Keys of a workflow document that configure the service, not the definition: its schedules,
its trigger's filter and debounce, its stored scenarios. The service checks them (a file's are
checked by ``plait validate`` too); a definition ignores them without a warning."""
COMMON_KEYS = ("progressEvents",)
"""Top-level keys every dialect takes, read here rather than by each dialect's loader (and
``metrics``, with each step's ``metrics``: see ``plait.definitions.metrics``)."""

__all__ = [
    "CheckResult",
    "DefinitionLimitExceeded",
    "InvalidDefinition",
    "Problem",
    "check_definition",
    "check_draft",
    "detect_dialect",
    "load_definition",
    "parse_document",
]

DEFAULTS = Settings()
"""The limits of a document checked without settings (``Settings``' defaults)."""
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
    limit: DefinitionLimitExceeded | None = None
    """The limit the document is over, if any (then it is the one error)."""

    @property
    def valid(self) -> bool:
        return not self.errors


def parse_document(
    text: str, filename: str | None = None, settings: Settings | None = None
) -> dict[str, Any]:
    """Parse a definition: JSON or YAML by the file's extension, else JSON, then YAML.

    Raises:
        InvalidDefinition: a syntax error (with its line and column) or a top level that is not
            an object; the problem is at ``$``.
        DefinitionLimitExceeded: the text is over ``max_document_bytes``, nested deeper than
            ``max_document_depth``, or (YAML) expands more than ``max_yaml_aliases`` aliases.
    """
    settings = settings or DEFAULTS
    check_text(text, settings)
    suffix = Path(filename).suffix.lower() if filename else ""
    if suffix == ".json":
        value = _json(text, settings)
    elif suffix in (".yaml", ".yml"):
        value = _yaml(text, settings)
    else:
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            looks_json = text.lstrip().startswith(("{", "["))
            value = _json(text, settings) if looks_json else _yaml(text, settings)
        except RecursionError as exc:
            raise _too_deep(settings) from exc
    if value is None:
        raise InvalidDefinition([Problem("$", "the document is empty")])
    if not isinstance(value, dict):
        what = type(value).__name__
        raise InvalidDefinition([Problem("$", f"expected an object at the top, got a {what}")])
    return value


def _json(text: str, settings: Settings) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise InvalidDefinition([Problem("$", f"invalid JSON at {where}: {exc.msg}")]) from exc
    except RecursionError as exc:  # json's parser recurses once per level of nesting
        raise _too_deep(settings) from exc


def _too_deep(settings: Settings) -> DefinitionLimitExceeded:
    limit = settings.max_document_depth
    return DefinitionLimitExceeded("the nesting depth of the definition", f"more than {limit}",
                                   limit, "max_document_depth", "$")  # fmt: skip


class _Loader(yaml.SafeLoader):
    """Safe YAML without timestamps: ``2024-01-01`` stays a string, as in JSON. Booleans are
    YAML 1.2's ``true``/``false`` only, so a state machine's ``on:`` stays the key ``"on"``.

    Aliases are counted while the document is composed, before anything is constructed: each
    ``*name`` counts one, plus the aliases inside the node it names (those are expanded too), so
    a "billion laughs" of nested aliases is refused after a few hundred nodes. Nesting deeper
    than ``max_document_depth`` is refused before the composer's recursion can break.
    """

    def __init__(self, text: str, settings: Settings) -> None:
        super().__init__(text)
        self.settings = settings
        self.aliases = 0
        self.depth = 0
        self.weights: dict[str, int] = {}
        """Aliases inside each anchored node, once expanded."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            self.count_alias(event)
            return super().compose_node(parent, index)
        self.depth += 1
        if self.depth > self.settings.max_document_depth:
            raise _too_deep(self.settings)
        anchor = getattr(event, "anchor", None)
        before = self.aliases
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        if anchor is not None:
            self.weights[anchor] = self.aliases - before
        return node

    def count_alias(self, event: yaml.Event) -> None:
        anchor = getattr(event, "anchor", None)
        weight = self.weights.get(anchor or "")
        if weight is None and anchor in self.anchors:
            raise self_alias(str(anchor), event.start_mark.line + 1 if event.start_mark else None)
        self.aliases += 1 + (weight or 0)
        check_aliases(self.aliases, self.settings)


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


class _FastLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """:class:`_Loader`'s reading of YAML, composed by libyaml in C (five times faster). Its
    limits are enforced by the event scan that runs first (``yaml_scan``), not while composing."""


_FastLoader.yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers


def _yaml(text: str, settings: Settings) -> Any:
    scanned = scan(text, settings)  # a document over a limit is refused before it is composed
    loader = _FastLoader(text) if scanned else _Loader(text, settings)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidDefinition([Problem("$", f"invalid YAML{where}: {problem}")]) from exc
    finally:
        loader.dispose()


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
    settings: Settings | None = None,
) -> CheckResult:
    """Read and check a definition in any dialect, collecting every problem.

    Args:
        document: a parsed document, its JSON/YAML text, a file path, or a canonical definition.
        actions: tells whether an action name is known; ``None`` skips that check (a draft).
        settings: the limits in force (``max_document_bytes``, ``max_steps``, ...); default:
            ``Settings()``'s. A document over one has that one error, and nothing else is read.
    """
    return _check(document, Findings(), actions, settings or DEFAULTS)


def check_draft(
    document: dict[str, Any],
    *,
    actions: Callable[[str], bool] | None = None,
    settings: Settings | None = None,
) -> CheckResult:
    """Check a Draft: like :func:`check_definition`, except that it may have no steps yet (nor
    nodes, nor states). Such a document is read by the dialect its keys fit best (the first of
    the one it declares, else entity, service, function, with the fewest errors and unknown
    keys), so every field it has must still be well-typed; its ``definition`` is ``None``.
    """
    settings = settings or DEFAULTS
    if not stepless(document):
        return _check(document, Findings(), actions, settings)
    try:
        check_document(document, settings)
    except DefinitionLimitExceeded as exc:
        return CheckResult(None, list(exc.problems), limit=exc)
    except InvalidDefinition as exc:
        return CheckResult(None, list(exc.problems))
    best: Findings | None = None
    fits = ""
    for dialect in _draft_dialects(document):
        findings = Findings(draft=True)
        DIALECTS[dialect]({**document, "steps": []}, findings)
        if best is None or _misfit(findings) < _misfit(best):
            best, fits = findings, dialect
    assert best is not None
    if fits == "function":
        _nothing_produces_yet(document, best)
    return CheckResult(None, best.errors, best.warnings)


def _nothing_produces_yet(document: dict[str, Any], findings: Findings) -> None:
    """A function-steps Draft without steps that declares its output: a warning (saved, it
    cannot run; the steps and the outputMapping to produce it come later)."""
    for key in ("output", "outputSchema"):
        if isinstance(document.get(key), dict) and "outputMapping" not in document:
            message = "nothing produces the declared output yet: add the steps, and an "
            findings.warn(f"$.{key}", message + "outputMapping that forms it from their results")


def _misfit(findings: Findings) -> int:
    """How badly a stepless document fits a dialect: its errors, and its keys the dialect does
    not know (the only warnings a document without steps can have)."""
    return len(findings.errors) + len(findings.warnings)


def stepless(document: dict[str, Any]) -> bool:
    """A document without steps yet: no ``steps`` (or an empty list), nor a node graph, nor a
    state machine."""
    if any(key in document for key in ("nodes", "states", "machine")):
        return False
    return document.get("steps") in (None, [])


def _draft_dialects(document: dict[str, Any]) -> list[str]:
    declared = document.get("dialect")
    if isinstance(declared, str) and declared in ("canonical", "entity", "function", "service"):
        return [declared]
    return ["entity", "service", "function"]


def load_definition(
    document: dict[str, Any] | str | Path | Definition,
    *,
    actions: Callable[[str], bool] | None = None,
    settings: Settings | None = None,
) -> Definition:
    """Read, normalise and validate a definition.

    Raises:
        DefinitionLimitExceeded: the document is over a limit of ``settings`` (see
            :func:`check_definition`); a ``LimitExceeded`` and an ``InvalidDefinition``.
        InvalidDefinition: listing every error (and the warnings) when there is any error.
    """
    result = _check(document, Findings(), actions, settings or DEFAULTS)
    if result.limit is not None:
        raise result.limit
    if result.definition is None:
        raise InvalidDefinition(result.errors, result.warnings)
    return result.definition


def _check(
    document: dict[str, Any] | str | Path | Definition,
    findings: Findings,
    actions: Callable[[str], bool] | None,
    settings: Settings,
) -> CheckResult:
    try:
        normalised = _normalise(document, findings, settings)
    except DefinitionLimitExceeded as exc:
        return CheckResult(None, list(exc.problems), limit=exc)
    if normalised.definition is not None:
        with cost_limit(settings.max_expression_cost):
            validate(
                normalised.definition,
                findings,
                actions=actions,
                sources=normalised.sources,
                unreadable=frozenset(normalised.unreadable),
                settings=settings,
            )
            check_output(normalised.definition, normalised.sources, findings)
            metrics.check(normalised.definition, findings)
        for problem in missing_fallbacks(normalised.definition):  # an error at activation
            findings.warn(problem.path, problem.message)
    definition = None if findings.errors else normalised.definition
    return CheckResult(definition, findings.errors, findings.warnings)


def _normalise(
    document: dict[str, Any] | str | Path | Definition, findings: Findings, settings: Settings
) -> Normalised:
    if isinstance(document, Definition):
        check_model(document, settings)
        return Normalised(document)
    try:
        parsed = _parse(document, settings)
    except DefinitionLimitExceeded:
        raise
    except InvalidDefinition as exc:
        findings.errors.extend(exc.problems)
        return Normalised(None)
    parsed = {key: value for key, value in parsed.items() if key not in SERVICE_KEYS}
    progress_events = parsed.pop(COMMON_KEYS[0], None)
    decode_json(parsed, "steps", findings)
    try:
        check_document(parsed, settings)
    except DefinitionLimitExceeded:
        raise
    except InvalidDefinition as exc:
        findings.errors.extend(exc.problems)
        return Normalised(None)
    dialect = detect_dialect(parsed, findings)
    if dialect is None:
        return Normalised(None)
    parsed, declared, step_metrics = metrics.lift(parsed, steps=dialect != "canonical")
    parsed, priced = pricing.lift(parsed)
    parsed, caches = step_cache.lift(parsed)
    parsed, flow_keys = flow.lift(parsed)
    parsed, limits = step_limits.lift(parsed)
    normalised = DIALECTS[dialect](parsed, findings)
    if normalised.definition is not None:
        metrics.apply(normalised.definition, declared, step_metrics, findings)
        pricing.apply(normalised.definition, priced, findings, dialect)
        step_cache.apply(normalised.definition, caches, findings)
        flow.apply(normalised.definition, flow_keys, findings)
        step_limits.apply(normalised.definition, limits, findings)
    return _progress_events(normalised, progress_events, findings)


def _progress_events(normalised: Normalised, value: Any, findings: Findings) -> Normalised:
    """``progressEvents`` (every dialect's key): whether runs emit progress events."""
    if value is None or normalised.definition is None:
        return normalised
    if not isinstance(value, bool):
        findings.error("$.progressEvents", f"must be true or false, not {value!r}")
        return normalised
    normalised.definition.progress_events = value
    return normalised


def _parse(document: dict[str, Any] | str | Path, settings: Settings) -> dict[str, Any]:
    if isinstance(document, dict):
        return document
    if isinstance(document, str):
        return parse_document(document, settings=settings)
    try:
        text = document.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidDefinition([Problem("$", f"cannot read {document}: {exc}")]) from exc
    return parse_document(text, str(document), settings)
