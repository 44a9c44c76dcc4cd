"""The node-graph dialect (brief 004): trigger and action nodes joined by edges.

    {"metadata": {"name": "Inventory reorder alerts", "id": "inventory-reorder"},
     "nodes": [{"id": "start", "type": "trigger", "name": "Manual start"},
               {"id": "check", "type": "action", "config": {"code": "result = ..."}}],
     "edges": [{"source": "start", "target": "check"}]}

Trigger nodes make the workflow's trigger (manual, plus ``config.event`` types). Action nodes
become steps: ``config.code`` is Python for the built-in ``code`` action, else ``config.action``
names an action and ``config.input`` is its templated input. An edge between action nodes is a
dependency; an edge from a trigger node is not. Steps are listed in topological order, ties
broken by document order, and run one at a time in that order (the brief: "processes each node
sequentially"), so each node reads the workflow context the nodes before it left.

Contexts (brief 004): the document's ``context`` is the workflow-level context, an object every
node reads (``context`` in expressions and in Python) and writes (``config.assign``, an object
template over the node's ``output``, merged into it when the node succeeds). A node's
``config.context`` is its node-level context, private to it (``node`` in its expressions,
``context["node"]`` in its Python).
"""

from __future__ import annotations

import itertools
from typing import Any, Literal

from pydantic import Field

from plait.definitions.dialects import (
    Events,
    Normalised,
    Source,
    build,
    name,
    read,
    stand_in,
)
from plait.definitions.model import ActionStep, Trigger
from plait.definitions.validate import Findings, join


class NodeConfig(Source):
    code: str | None = Field(default=None, min_length=1)
    action: str | None = Field(default=None, min_length=1)
    input: Any = None
    event: Events | None = None
    context: dict[str, Any] | None = None
    """The node-level context: a template of an object only this node sees."""
    assign: dict[str, Any] | str | None = None
    """What the node writes to the workflow context: a template of an object."""


class GraphNode(Source):
    id: str = Field(min_length=1)
    type: Literal["trigger", "action"]
    name: str | None = None
    description: str | None = None
    config: NodeConfig | None = None
    position: Any = None
    """Editor layout; ignored."""


class GraphEdge(Source):
    source: str
    target: str
    id: Any = None
    label: Any = None


class GraphMetadata(Source):
    name: str | None = None
    id: str | None = None
    description: str | None = None
    version: Any = None


class GraphWorkflow(Source):
    metadata: GraphMetadata | None = None
    name: str | None = None
    description: str | None = None
    dialect: Literal["graph"] | None = None
    nodes: list[Any]
    edges: list[Any] = Field(default_factory=list)
    context: dict[str, Any] | None = None
    """The workflow-level context: a template over ``input`` of the object it starts as."""


def normalise(document: dict[str, Any], findings: Findings) -> Normalised:
    """Read a node-graph document into the canonical model."""
    source = read(GraphWorkflow, document, "$", findings)
    if source is None:
        return Normalised(None)
    unreadable: set[str] = set()
    triggers: list[GraphNode] = []
    steps: list[ActionStep] = []
    seen: dict[str, str] = {}
    for index, raw in enumerate(source.nodes):
        path = f"$.nodes[{index}]"
        node = read(GraphNode, raw, path, findings)
        if node is None:
            steps.append(stand_in(raw, path, path, unreadable))
            seen.setdefault(steps[-1].id, path)
            continue
        if node.id in seen:
            findings.error(join(path, "id"), f"duplicate node id {node.id!r} (first used at "
                           f"{seen[node.id]})")  # fmt: skip
            continue
        seen[node.id] = path
        if node.type == "trigger":
            triggers.append(node)
        else:
            steps.append(_action(node, path, findings))
    _edges(source.edges, {t.id for t in triggers}, steps, set(seen), findings)
    if not steps:
        findings.error("$.nodes", "a workflow needs at least one action node")
    metadata = source.metadata or GraphMetadata()
    where = "$.name" if source.name and not metadata.name else "$.metadata.name"
    extra = {"id": metadata.id, "version": metadata.version}
    definition = build(findings, {
        "name": name(metadata.name or source.name, where, findings),
        "description": metadata.description or source.description,
        "dialect": "graph",
        "trigger": _trigger(triggers),
        "steps": _in_turn(_topological(steps)),
        "context": source.context if source.context is not None else {},
        "metadata": {key: value for key, value in extra.items() if value is not None},
    })  # fmt: skip
    return Normalised(definition, {}, unreadable)


def _action(node: GraphNode, path: str, findings: Findings) -> ActionStep:
    config = node.config or NodeConfig()
    if config.code is not None and config.action is not None:
        findings.error(join(path, "config"), "give config.code or config.action, not both")
    if config.code is not None:
        action, input_ = "code", {"code": config.code}
        sources = {"action": "config.code", "input": "config.code"}
    elif config.action is not None:
        action, input_ = config.action, config.input
        sources = {"action": "config.action", "input": "config.input"}
    else:
        findings.error(join(path, "config"), "an action node needs config.code (Python) or "
                       "config.action (an action name)")  # fmt: skip
        action, input_, sources = "code", None, {}
    sources.update(context="config.context", assign="config.assign")
    return ActionStep(id=node.id, name=node.name, action=action, input=input_, path=path,
                      sources=sources, context=config.context, assign=config.assign)  # fmt: skip


def _edges(
    edges: list[Any],
    triggers: set[str],
    steps: list[ActionStep],
    nodes: set[str],
    findings: Findings,
) -> None:
    """Turn edges between action nodes into ``depends_on`` (no duplicates)."""
    by_id = {step.id: step for step in steps}
    for index, raw in enumerate(edges):
        path = f"$.edges[{index}]"
        edge = read(GraphEdge, raw, path, findings)
        if edge is None:
            continue
        known = True
        for end in ("source", "target"):
            node = getattr(edge, end)
            if node not in nodes:
                findings.error(join(path, end), f"unknown node {node!r}")
                known = False
        if not known or edge.source in triggers:
            continue
        if edge.target in triggers:
            findings.error(join(path, "target"), f"trigger node {edge.target!r} cannot be the "
                           "target of an edge")  # fmt: skip
            continue
        target = by_id.get(edge.target)
        if target is not None and edge.source not in target.depends_on:
            target.depends_on.append(edge.source)


def _trigger(nodes: list[GraphNode]) -> Trigger | None:
    if not nodes:
        return None
    events: list[str] = []
    for node in nodes:
        event = node.config.event if node.config else None
        events.extend([event] if isinstance(event, str) else event or [])
    return Trigger(events=events)


def _in_turn(ordered: tuple[list[ActionStep], bool]) -> list[ActionStep]:
    """Steps in topological order, each made to wait for the one before it as well as for its
    edges (unless they form a cycle, which validation reports as written)."""
    steps, acyclic = ordered
    for previous, step in itertools.pairwise(steps if acyclic else []):
        if previous.id not in step.depends_on:
            step.after.append(previous.id)
    return steps


def _topological(steps: list[ActionStep]) -> tuple[list[ActionStep], bool]:
    """Kahn's order; among ready steps, document order; and whether there is no cycle. Steps
    in a cycle keep document order at the end (validation reports the cycle)."""
    ordered: list[ActionStep] = []
    placed: set[str] = set()
    ids = {step.id for step in steps}
    waiting = list(steps)
    while waiting:
        ready = next(
            (s for s in waiting if all(d in placed or d not in ids for d in s.depends_on)), None
        )
        if ready is None:
            return ordered + waiting, False
        ordered.append(ready)
        placed.add(ready.id)
        waiting.remove(ready)
    return ordered, True
