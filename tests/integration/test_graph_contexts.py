"""Node graphs as brief 004 describes them: a workflow-level context that every node reads and
writes, a node-level context private to each node, and an execution report with the success
status, the context data and the errors; through ``plait validate``, ``plait test`` and Python.
The context is rebuilt from the run's records when it replays (a resume in another engine)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from plait import Engine, WorkflowFailed

GRAPH: dict[str, Any] = {
    "metadata": {"name": "restock"},
    "context": {"factor": 2, "ordered": []},
    "nodes": [
        {"id": "start", "type": "trigger"},
        {"id": "check", "type": "action", "config": {
            "code": "low = [i for i in input['items'] if i['stock'] < i['min']]\n"
                    "return {'low': [dict(i, qty=context['factor'] * i['min'] - i['stock'])"
                    " for i in low]}",
            "assign": {"ordered": "{{ output.low }}", "checkedBy": "{{ node.who }}"}}},
        {"id": "order", "type": "action", "config": {
            "action": "log",
            "context": {"prefix": "Order"},
            "input": {"message": "{{ node.prefix + ': ' + string(size(context.ordered)) }}"},
            "assign": {"lines": "{{ size(context.ordered) }}"}}},
        {"id": "alert", "type": "action", "config": {
            "code": "return context['node']['channel'] + ' ' + str(context['lines'])",
            "context": {"channel": "#purchasing"}}},
    ],
    "edges": [{"source": "start", "target": "check"}, {"source": "check", "target": "order"},
              {"source": "order", "target": "alert"}],
}  # fmt: skip
ITEMS = {"items": [{"sku": "W", "stock": 3, "min": 10}, {"sku": "S", "stock": 9, "min": 5}]}


def _plait(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PLAIT_DATABASE_URL"}
    return subprocess.run([sys.executable, "-m", "plait", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def _file(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "graph.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _node(document: dict[str, Any], index: int, **config: Any) -> dict[str, Any]:
    """``document`` with node ``index``'s config updated."""
    nodes = [dict(node) for node in document["nodes"]]
    nodes[index] = {**nodes[index], "config": {**nodes[index].get("config", {}), **config}}
    return {**document, "nodes": nodes}


def test_the_report_has_the_success_status_the_context_data_and_the_errors(
    tmp_path: Path,
) -> None:
    graph = _node(GRAPH, 1, context={"who": "stock-bot"})
    done = _plait(["test", str(_file(tmp_path, graph)), "--input", json.dumps(ITEMS), "--json"],
                  tmp_path)  # fmt: skip

    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert (report["status"], report["success"], report["errors"]) == ("succeeded", True, [])
    low = [{"sku": "W", "stock": 3, "min": 10, "qty": 17}]
    # The declared start, then each node's writes, in order.
    assert report["context"] == {"factor": 2, "ordered": low, "checkedBy": "stock-bot",
                                 "lines": 1}  # fmt: skip
    # Each node read what the nodes before it wrote, and its own context.
    assert report["output"]["order"] == "Order: 1"
    assert report["output"]["alert"] == "#purchasing 1"
    assert list(report["steps"]) == ["check", "order", "alert"]  # no bookkeeping records


def test_a_nodes_own_context_is_private_to_it(tmp_path: Path) -> None:
    # `check` has no node-level context: `order`'s prefix is not visible to it.
    graph = _node(
        GRAPH, 1, assign={"ordered": "{{ output.low }}", "checkedBy": "{{ node.prefix }}"}
    )
    done = _plait(["test", str(_file(tmp_path, graph)), "--input", json.dumps(ITEMS), "--json"],
                  tmp_path)  # fmt: skip

    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert (report["status"], report["success"]) == ("failed", False)
    [error] = report["errors"]
    assert error["step"] == "check.context"
    assert "no key 'prefix' in node" in error["message"]
    assert report["context"] == {"factor": 2, "ordered": []}  # nothing was written


def test_context_problems_are_validation_errors_at_their_paths(tmp_path: Path) -> None:
    graph = {**GRAPH, "context": {"factor": 2, "runId": "mine"}}
    graph = _node(graph, 2, assign={"step": "{{ output }}", "n": "{{ outptu }}"})
    graph["nodes"][3] = {**graph["nodes"][3], "id": "node"}
    graph["edges"] = [*graph["edges"][:2], {"source": "order", "target": "node"}]
    done = _plait(["validate", str(_file(tmp_path, graph)), "--json"], tmp_path)

    assert done.returncode == 1
    errors = {e["path"]: e["message"] for e in json.loads(done.stdout)["errors"]}
    assert set(errors) == {"$.context.runId", "$.nodes[2].config.assign.step",
                           "$.nodes[2].config.assign.n", "$.nodes[3].id"}  # fmt: skip
    assert errors["$.context.runId"].startswith("'runId' cannot be a workflow context key")
    assert errors["$.nodes[2].config.assign.n"].startswith("unknown name 'outptu'")
    assert errors["$.nodes[3].id"] == (
        "step id 'node' is reserved: expressions use it for a context"
    )


def test_a_step_context_needs_a_workflow_with_one(tmp_path: Path) -> None:
    document = {"name": "c", "dialect": "canonical", "steps": [
        {"kind": "action", "id": "a", "action": "log", "assign": {"x": 1}}]}  # fmt: skip
    done = _plait(["validate", str(_file(tmp_path, document)), "--json"], tmp_path)
    assert done.returncode == 1
    [error] = json.loads(done.stdout)["errors"]
    assert error == {"path": "$.steps[0].assign",
                     "message": "a step's assign needs a workflow context: give the workflow "
                                "one"}  # fmt: skip


async def test_a_resumed_run_rebuilds_the_context_from_its_records(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'graph.db'}"
    graph = {
        "metadata": {"name": "two"},
        "context": {"seen": []},
        "nodes": [
            {"id": "first", "type": "action", "config": {
                "action": "count", "assign": {"seen": "{{ context.seen + [output] }}"}}},
            {"id": "second", "type": "action", "config": {
                "action": "flaky", "input": {"seen": "{{ context.seen }}"},
                "assign": {"done": "{{ output }}"}}},
        ],
        "edges": [{"source": "first", "target": "second"}],
    }  # fmt: skip
    calls: list[str] = []

    def engine_with(fail: bool) -> Engine:
        engine = Engine(url)

        @engine.action("count")
        async def count(_: Any) -> int:
            calls.append("first")
            return len(calls)

        @engine.action("flaky")
        async def flaky(value: dict[str, Any]) -> str:
            calls.append("second")
            if fail:
                raise RuntimeError("supplier API down")
            return f"saw {value['seen']}"

        return engine

    broken = engine_with(fail=True)
    workflow = broken.define(graph)
    async with broken:
        handle = await broken.start(workflow)
        with pytest.raises(WorkflowFailed):
            await handle.result(timeout=20)
        run = await handle.info()
    assert run.context == {"seen": [1]}
    assert run.failed_steps == ["second"]

    fixed = engine_with(fail=False)  # a new engine: nothing of the first run is in memory
    fixed.define(graph)
    async with fixed:
        resumed = await fixed.handle(run.id).resume()
        assert await resumed.result(timeout=20) == {"first": 1, "second": "saw [1]"}
        run = await resumed.info()
    assert calls == ["first", "second", "second"]  # `first` was not run again
    assert run.context == {"seen": [1], "done": "saw [1]"}
