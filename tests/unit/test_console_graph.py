"""The definition graph of the console's workflow page: what it draws from each shape of
definition, a layout that terminates on cycles, and text that cannot break out of the SVG."""

from __future__ import annotations

from pathlib import Path

from plait.console import graph
from plait.definitions.load import load_definition
from plait.definitions.model import Definition

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "definitions"


def test_dependencies_parallel_groups_and_branches_become_edges_and_boxes() -> None:
    drawn = graph.of_definition(load_definition(EXAMPLES / "order-fulfillment.yaml"))
    edges = {(e.source, e.target) for e in drawn.edges}
    assert ("validate", "payment") in edges
    assert ("inventory", "inventory/check-stock") in edges  # into the parallel group
    assert ("inventory/reserve", "shipping") in edges  # out of it, from each branch
    assert [(g.label, g.members) for g in drawn.groups] == [
        ("parallel (all)", ["inventory/check-stock", "inventory/reserve"])
    ]
    approval = graph.of_definition(load_definition(EXAMPLES / "expense-approval.yaml"))
    labels = {e.label for e in approval.edges}
    assert "else" in labels
    assert "if input.amount > 1000" in labels
    # a branch runs in turn: its second step follows its first
    assert ("manager-decision/then/amount-check/then/vp-approval",
            "manager-decision/then/amount-check/then/vp-decision") in {
        (e.source, e.target) for e in approval.edges}  # fmt: skip


def test_a_machine_with_cycles_is_laid_out_with_its_current_state() -> None:
    machine = load_definition(EXAMPLES / "order-state-machine.yaml")
    drawn = graph.of_definition(machine, current_state="processing")
    width, height = graph.layout(drawn)
    assert width > 0 and height > 0
    assert [n.id for n in drawn.nodes.values() if n.current] == ["processing"]
    assert drawn.nodes[drawn.start or ""].layer == 0
    assert drawn.nodes["pending"].layer < drawn.nodes["processing"].layer
    svg = str(graph.svg(drawn, "order"))
    assert 'class="node kind-state current" data-node="processing"' in svg
    assert "after 3600 s" in svg


def test_every_text_is_escaped() -> None:
    definition = Definition.model_validate({
        "name": "x", "steps": [
            {"id": "a", "kind": "action", "action": "log", "name": "<script>alert(1)</script>"},
            {"id": "b", "kind": "condition", "test": "a < 1 && 'x' == '\"'",
             "depends_on": ["a"], "then": [{"id": "c", "kind": "action", "action": "log"}]},
        ]})  # fmt: skip
    svg = str(graph.svg(graph.of_definition(definition), 'title "<b>'))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "<b>" not in svg
    assert "a &lt; 1 &amp;&amp;" in svg


def test_too_many_steps_are_not_drawn() -> None:
    steps = [{"id": f"s{i}", "kind": "action", "action": "log"} for i in range(graph.MAX_NODES + 1)]
    drawn = graph.of_definition(Definition.model_validate({"name": "big", "steps": steps}))
    assert "too many to draw" in str(graph.svg(drawn, "big"))
    assert str(graph.svg(graph.Graph(), "nothing")) == ""
