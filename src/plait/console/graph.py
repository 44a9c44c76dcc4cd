"""A workflow definition drawn as SVG on the server: steps as nodes, dependencies as edges,
parallel groups (and for-each bodies) as boxes around their steps, condition branches as edges
labelled with the condition; a state machine as its states and transitions, with the current
state of one instance highlighted.

The layout is layered: each node sits in the layer after the longest chain of edges that leads
to it (edges closing a cycle, as a machine's transitions may, are left out of that count), and
layers run left to right. Every text is escaped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from markupsafe import Markup, escape

from plait.definitions.model import (
    ConditionStep,
    Definition,
    ForeachStep,
    Machine,
    ParallelStep,
    Step,
)

MAX_NODES = 400
"""A definition with more nodes is not drawn (the page shows its source)."""
NODE_H = 40
LAYER_GAP = 80.0
ROW_GAP = 26
PAD = 16
LABEL_CHARS = 30
EDGE_LABEL_CHARS = 34
KIND_MARK = {"action": "", "parallel": "∥ ", "condition": "◇ ", "foreach": "↻ ",
             "sleep": "◷ ", "wait": "✉ ", "human-task": "✎ ", "workflow": "↳ "}  # fmt: skip


@dataclass
class Node:
    id: str
    label: str
    kind: str = "action"
    note: str = ""
    current: bool = False
    final: bool = False
    layer: int = 0
    row: int = 0
    x: float = 0
    y: float = 0
    width: float = 0


@dataclass
class Edge:
    source: str
    target: str
    label: str = ""
    dashed: bool = False


@dataclass
class Group:
    label: str
    members: list[str]


@dataclass
class Graph:
    """Nodes, edges and groups, in the order the definition lists them."""

    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    start: str | None = None
    """A machine's initial state (drawn with an arrow from a dot)."""

    def add(self, node: Node) -> Node:
        self.nodes[node.id] = node
        return node


# -- from a definition -------------------------------------------------------------------------


def of_definition(definition: Definition, current_state: str | None = None) -> Graph:
    """The graph of ``definition``: its machine's states, else its steps."""
    if definition.machine is not None:
        return of_machine(definition.machine, current_state)
    graph = Graph()
    _steps(graph, definition.steps, "")
    return graph


def _steps(
    graph: Graph, steps: list[Step], scope: str, *, chain: bool = False
) -> tuple[list[str], list[str]]:
    """Add ``steps`` (siblings) to ``graph``; return the ids where the list starts and ends.
    Top-level steps and a parallel group's run by their dependencies; a ``chain`` (a branch, a
    for-each body, a fallback) runs in turn."""
    ends: dict[str, tuple[list[str], list[str]]] = {}
    for step in steps:
        ends[step.id] = _step(graph, step, scope)
    needed: set[str] = set()
    entries: list[str] = []
    previous: str | None = None
    for step in steps:
        before = [(d, False) for d in step.depends_on] + [(a, True) for a in step.after]
        known = [(d, dashed) for d, dashed in before if d in ends]
        if chain and not known and previous is not None:
            known = [(previous, False)]
        label = f"if {step.condition}" if step.condition else ""
        for dep, dashed in known:
            needed.add(dep)
            for source in ends[dep][1]:
                for target in ends[step.id][0]:
                    graph.edges.append(Edge(source, target, label, dashed))
        if not known:
            entries.extend(ends[step.id][0])
            if step.condition:
                graph.nodes[_node_id(scope, step.id)].note = label
        previous = step.id
    exits = [x for step in steps if step.id not in needed for x in ends[step.id][1]]
    return entries, exits


def _step(graph: Graph, step: Step, scope: str) -> tuple[list[str], list[str]]:
    node = graph.add(Node(_node_id(scope, step.id), step.name or step.id, step.kind))
    inner = f"{node.id}/"
    exits = [node.id]
    if isinstance(step, ParallelStep | ForeachStep):
        before = len(graph.nodes)
        entries, exits = _steps(graph, step.steps, inner, chain=isinstance(step, ForeachStep))
        members = list(graph.nodes)[before:]
        graph.edges.extend(Edge(node.id, e) for e in entries)
        if isinstance(step, ParallelStep):
            label = f"parallel ({step.strategy})"
        else:
            label = f"for each {step.as_} in {step.items}"
        graph.groups.append(Group(label, members))
    elif isinstance(step, ConditionStep):
        node.note = "" if step.then else f"if {step.test}"  # else the branch's edge says it
        exits = []
        branches = (("then", step.then, f"if {step.test}"), ("else", step.else_, "else"))
        for arm, branch, label in branches:
            if not branch:
                exits.append(node.id)
                continue
            entries, ends = _steps(graph, branch, f"{inner}{arm}/", chain=True)
            graph.edges.extend(Edge(node.id, e, label) for e in entries)
            exits.extend(ends)
    if step.fallback:
        entries, _ = _steps(graph, step.fallback, f"{inner}fallback/", chain=True)
        graph.edges.extend(Edge(node.id, e, "on failure", dashed=True) for e in entries)
    return [node.id], exits


def _node_id(scope: str, step_id: str) -> str:
    return f"{scope}{step_id}"


def of_machine(machine: Machine, current_state: str | None = None) -> Graph:
    """A state machine's states and transitions (labelled by event, guard, timeout)."""
    graph = Graph(start=machine.initial)
    for name, state in machine.states.items():
        note = "entry: " + ", ".join(s.id for s in state.entry) if state.entry else ""
        graph.add(Node(name, name, "state", note=note, current=name == current_state,
                       final=state.final))  # fmt: skip
    for name, state in machine.states.items():
        for event, move in state.on.items():
            label = event + (f" [{move.guard}]" if move.guard else "")
            graph.edges.append(Edge(name, move.target, label))
        if state.timeout_transition is not None:
            after = f"after {state.timeout:g} s" if state.timeout else "timeout"
            graph.edges.append(Edge(name, state.timeout_transition.target, after, dashed=True))
    graph.edges = [e for e in graph.edges if e.target in graph.nodes]
    return graph


# -- layout ------------------------------------------------------------------------------------


def layout(graph: Graph) -> tuple[float, float]:
    """Place the nodes (layers left to right); return the drawing's width and height."""
    forward = _forward_edges(graph)
    for node in graph.nodes.values():  # definition order is a topological order of forward
        node.layer = 0
    changed = True
    rounds = 0
    while changed and rounds <= len(graph.nodes):
        changed, rounds = False, rounds + 1
        for edge in forward:
            wanted = graph.nodes[edge.source].layer + 1
            if graph.nodes[edge.target].layer < wanted:
                graph.nodes[edge.target].layer, changed = wanted, True
    layers: dict[int, list[Node]] = {}
    for node in graph.nodes.values():
        node.width = _width(node)
        layers.setdefault(node.layer, []).append(node)
    gaps: dict[int, float] = {}
    for edge in graph.edges:  # room for the labels of the edges leaving each layer
        if edge.label:
            layer = graph.nodes[edge.source].layer
            room = len(_cut(edge.label, EDGE_LABEL_CHARS)) * 6.2 + 24
            gaps[layer] = max(gaps.get(layer, LAYER_GAP), room)
    x: float = PAD + (24 if graph.start else 0)
    height = 0.0
    for index in sorted(layers):
        column = layers[index]
        widest = max(n.width for n in column)
        y: float = PAD + 22
        for row, node in enumerate(column):
            node.row, node.x, node.y = row, x + (widest - node.width) / 2, y
            y += NODE_H + ROW_GAP + (14 if node.note else 0)
            height = max(height, node.y + NODE_H + (16 if node.note else 0))
        x += widest + gaps.get(index, LAYER_GAP)
    return x - gaps.get(max(layers), LAYER_GAP) + PAD, height + PAD + 30


def _forward_edges(graph: Graph) -> list[Edge]:
    """The edges that do not close a cycle (depth-first from each node in order)."""
    out: dict[str, list[Edge]] = {}
    for edge in graph.edges:
        out.setdefault(edge.source, []).append(edge)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    forward: list[Edge] = []
    order = ([graph.start] if graph.start in graph.nodes else []) + list(graph.nodes)
    for root in order:
        if root is None or root in state:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        state[root] = 1
        while stack:
            name, i = stack[-1]
            edges = out.get(name, [])
            if i == len(edges):
                state[name] = 2
                stack.pop()
                continue
            stack[-1] = (name, i + 1)
            edge = edges[i]
            seen = state.get(edge.target)
            if seen == 1:
                continue  # closes a cycle
            forward.append(edge)
            if seen is None:
                state[edge.target] = 1
                stack.append((edge.target, 0))
    return forward


def _width(node: Node) -> float:
    shown = len(_cut(KIND_MARK.get(node.kind, "") + node.label, LABEL_CHARS))
    return float(max(96, min(260, shown * 7.4 + 28)))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- drawing -----------------------------------------------------------------------------------


def svg(graph: Graph, title: str) -> Markup:
    """The graph as an inline ``<svg>`` (empty markup when there is nothing to draw)."""
    if not graph.nodes:
        return Markup("")
    if len(graph.nodes) > MAX_NODES:
        return Markup('<p class="muted">This definition has {} steps: too many to draw; '
                      "read its source.</p>").format(len(graph.nodes))  # fmt: skip
    width, height = layout(graph)
    parts = [
        f'<svg class="workflow-graph" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" role="img" aria-labelledby="graph-title" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="graph-title">{escape(title)}</title>',
        '<defs><marker id="graph-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'class="arrow"/></marker></defs>',
    ]
    parts.extend(_group(graph, g) for g in graph.groups)
    if graph.start in graph.nodes:
        parts.append(_start(graph.nodes[str(graph.start)]))
    parts.extend(_edge(graph, e) for e in graph.edges)
    parts.extend(_node(n) for n in graph.nodes.values())
    parts.append("</svg>")
    return Markup("\n".join(parts))


def _group(graph: Graph, group: Group) -> str:
    members = [graph.nodes[m] for m in group.members if m in graph.nodes]
    if not members:
        return ""
    left = min(n.x for n in members) - 10
    top = min(n.y for n in members) - 24
    right = max(n.x + n.width for n in members) + 10
    bottom = max(n.y + NODE_H + (16 if n.note else 0) for n in members) + 8
    label = escape(_cut(group.label, EDGE_LABEL_CHARS))
    return (f'<g class="group"><rect x="{left:.1f}" y="{top:.1f}" width="{right - left:.1f}" '
            f'height="{bottom - top:.1f}" rx="8"/><text x="{left + 8:.1f}" y="{top + 14:.1f}">'
            f"{label}<title>{escape(group.label)}</title></text></g>")  # fmt: skip


def _start(node: Node) -> str:
    cy = node.y + NODE_H / 2
    return (f'<g class="start"><circle cx="{PAD + 4}" cy="{cy:.1f}" r="5"/>'
            f'<path class="edge" d="M{PAD + 9},{cy:.1f} L{node.x - 2:.1f},{cy:.1f}" '
            'marker-end="url(#graph-arrow)"/></g>')  # fmt: skip


def _edge(graph: Graph, edge: Edge) -> str:
    a, b = graph.nodes[edge.source], graph.nodes[edge.target]
    dash = ' stroke-dasharray="5 4"' if edge.dashed else ""
    if b.layer > a.layer:
        x1, y1 = a.x + a.width, a.y + NODE_H / 2
        x2, y2 = b.x, b.y + NODE_H / 2
        bend = max(30.0, (x2 - x1) / 2)
        d = (f"M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1:.1f} "
             f"{x2 - bend:.1f},{y2:.1f} {x2:.1f},{y2:.1f}")  # fmt: skip
        lx, ly = (x1 + x2) / 2, (y1 + y2) / 2 - 5
    elif edge.source == edge.target:
        x1, y1 = a.x + a.width * 0.3, a.y
        x2 = a.x + a.width * 0.7
        d = f"M{x1:.1f},{y1:.1f} C{x1:.1f},{y1 - 30:.1f} {x2:.1f},{y1 - 30:.1f} {x2:.1f},{y1:.1f}"
        lx, ly = (x1 + x2) / 2, y1 - 26
    else:  # back (or same-layer) edge: below both nodes
        x1, y1 = a.x + a.width / 2, a.y + NODE_H
        x2, y2 = b.x + b.width / 2, b.y + NODE_H
        low = max(y1, y2) + 28 + 6 * abs(a.layer - b.layer)
        d = f"M{x1:.1f},{y1:.1f} C{x1:.1f},{low:.1f} {x2:.1f},{low:.1f} {x2:.1f},{y2:.1f}"
        lx, ly = (x1 + x2) / 2, low - 4
    path = f'<path class="edge" d="{d}"{dash} marker-end="url(#graph-arrow)"/>'
    if not edge.label:
        return path
    text = escape(_cut(edge.label, EDGE_LABEL_CHARS))
    full = escape(edge.label)
    return (f'<g class="edge-group">{path}<text class="edge-label" x="{lx:.1f}" y="{ly:.1f}" '
            f'text-anchor="middle">{text}<title>{full}</title></text></g>')  # fmt: skip


def _node(node: Node) -> str:
    classes = " ".join(c for c in ("node", f"kind-{node.kind}", "current" if node.current else "",
                                   "final" if node.final else "") if c)  # fmt: skip
    label = escape(_cut(KIND_MARK.get(node.kind, "") + node.label, LABEL_CHARS))
    rx = 18 if node.kind == "state" else 6
    cx, cy = node.x + node.width / 2, node.y + NODE_H / 2
    parts = [f'<g class="{classes}" data-node="{escape(node.id)}">',
             f"<title>{escape(node.id)}{' (current state)' if node.current else ''}</title>",
             f'<rect x="{node.x:.1f}" y="{node.y:.1f}" width="{node.width:.1f}" '
             f'height="{NODE_H}" rx="{rx}"/>']  # fmt: skip
    if node.final:
        inner = (f'<rect class="inner" x="{node.x + 3:.1f}" y="{node.y + 3:.1f}" '
                 f'width="{node.width - 6:.1f}" height="{NODE_H - 6}" rx="{rx - 2}"/>')  # fmt: skip
        parts.append(inner)
    parts.append(f'<text x="{cx:.1f}" y="{cy + 4:.1f}" text-anchor="middle">{label}</text>')
    if node.note:
        note = escape(_cut(node.note, EDGE_LABEL_CHARS))
        parts.append(f'<text class="note" x="{cx:.1f}" y="{node.y + NODE_H + 13:.1f}" '
                     f'text-anchor="middle">{note}</text>')  # fmt: skip
    parts.append("</g>")
    return "".join(parts)
