"""A first pass over a YAML document's events, before it is composed: aliases, nesting, steps.

Composing YAML in Python takes seconds for a few megabytes (a resolver runs for every scalar),
while libyaml's C parser hands out the events in a fraction of that. This pass counts, from the
events alone, what :mod:`plait.definitions.limits` bounds and a large document could exceed
before it is built: YAML aliases (as expanded), nesting depth and steps (counted where the
dialects put them, as ``limits`` counts them). A document over a limit is refused without being
composed; the loader and ``limits`` check the same bounds again on what is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from plait.definitions.limits import INNER, STEP_KEYS, STEP_MAPS
from plait.definitions.validate import DefinitionLimitExceeded, InvalidDefinition, Problem, join
from plait.settings import Settings

__all__ = ["check_aliases", "scan", "self_alias"]

_PARSER = getattr(yaml, "CSafeLoader", None)


@dataclass
class _Frame:
    mapping: bool
    role: str
    """``struct`` (its keys are read), ``steps`` (its objects are steps), ``stepmap`` (its values
    are steps), ``inner`` (its objects are read, not counted), or ``""``."""
    anchor: str | None
    aliases_before: int
    key: str | None = None
    expect_key: bool = True


@dataclass
class _Scan:
    settings: Settings
    frames: list[_Frame] = field(default_factory=list)
    weights: dict[str, int] = field(default_factory=dict)
    aliases: int = 0
    nodes: int = 0
    steps: int = 0
    top_keys: set[str] = field(default_factory=set)

    def start(self, mapping: bool, anchor: str | None) -> None:
        if len(self.frames) + 1 > self.settings.max_document_depth:
            limit = self.settings.max_document_depth
            raise DefinitionLimitExceeded(
                "the nesting depth of the definition", f"more than {limit}", limit,
                "max_document_depth", "$",
            )  # fmt: skip
        role, counted = self.role_of(mapping)
        self.steps += counted
        if self.steps > self.settings.max_steps:  # refused as soon as it is known
            where = next((join("$", k) for k in ("steps", "nodes", "states")
                          if k in self.top_keys), "$")  # fmt: skip
            raise DefinitionLimitExceeded("the number of steps", f"more than {self.steps - 1}",
                                          self.settings.max_steps, "max_steps", where)  # fmt: skip
        self.frames.append(_Frame(mapping, role, anchor, self.aliases))

    def role_of(self, mapping: bool) -> tuple[str, int]:
        """The role of a new container and whether it counts as a step."""
        if not self.frames:
            return ("struct" if mapping else ""), 0
        parent = self.frames[-1]
        if parent.mapping and parent.expect_key:
            return "", 0  # a complex key
        if parent.role == "struct":
            return _under(parent.key, mapping)
        if parent.role in ("steps", "stepmap"):
            if mapping:
                return "struct", 1
            return ("steps", 0) if parent.role == "stepmap" else ("", 0)
        if parent.role == "inner":
            return ("struct", 0) if mapping else ("inner", 0)
        return "", 0

    def end(self) -> None:
        frame = self.frames.pop()
        if frame.anchor is not None:
            self.weights[frame.anchor] = self.aliases - frame.aliases_before
        self.item_done()

    def scalar(self, value: str, anchor: str | None) -> None:
        if anchor is not None:
            self.weights[anchor] = 0
        if self.frames and self.frames[-1].mapping and self.frames[-1].expect_key:
            self.frames[-1].key = value
            self.frames[-1].expect_key = False
            if len(self.frames) == 1:
                self.top_keys.add(value)
            return
        self.item_done()

    def alias(self, anchor: str) -> None:
        if any(frame.anchor == anchor for frame in self.frames):
            raise self_alias(anchor)
        weight = self.weights.get(anchor, 0)  # unknown, or being composed: the loader says so
        self.aliases += 1 + weight
        check_aliases(self.aliases, self.settings)
        self.item_done()

    def item_done(self) -> None:
        if self.frames and self.frames[-1].mapping:
            frame = self.frames[-1]
            if frame.expect_key:  # a complex key ended
                frame.key, frame.expect_key = None, False
            else:
                frame.expect_key = True


def self_alias(anchor: str, line: int | None = None) -> InvalidDefinition:
    """The error for ``&a [*a]``: an alias inside the node it names."""
    at = "" if line is None else f" at line {line}"
    problem = f"invalid YAML{at}: the alias *{anchor} is inside its own anchor"
    return InvalidDefinition([Problem("$", problem)])


def check_aliases(count: int, settings: Settings) -> None:
    """Refuse ``count`` aliases (each counted with those inside the node it names) over
    ``max_yaml_aliases``."""
    if count > settings.max_yaml_aliases:
        raise DefinitionLimitExceeded(
            "the number of YAML aliases (each alias counted with those inside the node it "
            "names)", count, settings.max_yaml_aliases, "max_yaml_aliases", "$",
        )  # fmt: skip


def _under(key: str | None, mapping: bool) -> tuple[str, int]:
    """The role of a container that is the value of ``key`` in a structural object."""
    if key in STEP_KEYS:
        return ("struct", 1) if mapping else ("steps", 0)
    if key in STEP_MAPS:
        return ("stepmap", 0) if mapping else ("", 0)
    if key in INNER:
        if not mapping:
            return "inner", 0
        return ("inner", 0) if key == "on" else ("struct", 0)
    return "", 0


def scan(text: str, settings: Settings) -> bool:
    """Refuse a YAML document over ``max_yaml_aliases``, ``max_yaml_nodes``,
    ``max_document_depth`` or ``max_steps`` from its events; True when it was read through.

    Without libyaml, or when it cannot parse the text, this returns False: the Python loader
    then checks (and reports syntax errors) as it composes."""
    if _PARSER is None:
        return False
    state = _Scan(settings)
    try:
        for event in yaml.parse(text, Loader=_PARSER):
            _feed(state, event)
    except yaml.YAMLError:
        return False
    if state.steps > settings.max_steps:
        where = next((join("$", k) for k in ("steps", "nodes", "states") if k in state.top_keys),
                     "$")  # fmt: skip
        raise DefinitionLimitExceeded("the number of steps", state.steps, settings.max_steps,
                                      "max_steps", where)  # fmt: skip
    return True


_NODES = (yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent, yaml.AliasEvent)


def _feed(state: _Scan, event: yaml.Event) -> None:
    anchor = getattr(event, "anchor", None)
    if isinstance(event, _NODES):
        state.nodes += 1
        if state.nodes > state.settings.max_yaml_nodes:
            raise DefinitionLimitExceeded(
                "the number of YAML nodes (scalars, lists, mappings and aliases)",
                f"more than {state.settings.max_yaml_nodes:,}",
                f"{state.settings.max_yaml_nodes:,}", "max_yaml_nodes", "$",
            )  # fmt: skip
    if isinstance(event, yaml.MappingStartEvent):
        state.start(True, anchor)
    elif isinstance(event, yaml.SequenceStartEvent):
        state.start(False, anchor)
    elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
        state.end()
    elif isinstance(event, yaml.ScalarEvent):
        state.scalar(event.value, anchor)
    elif isinstance(event, yaml.AliasEvent) and anchor is not None:
        state.alias(anchor)
