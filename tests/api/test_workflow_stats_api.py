"""A stored workflow's business metrics and stats over REST, the CLI and Python (brief 001
``getStatus(id, {includeMetrics, includeAuditTrail})``, brief 000's health check): the same
figures through each, a run read with ``?include=metrics,audit``, Prometheus' summary of the
values, and the problems a bad window or include gets."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from plait import Engine
from plait.errors import WorkflowFailed
from tests.api.conftest import Keys, bearer
from tests.integration.test_service_cli import data, plait

CHECKOUT: dict[str, Any] = {
    "name": "Checkout",
    "metrics": [{"name": "revenue", "description": "Charged, in euros"}, "orders"],
    "errorHandling": {"retryStrategy": {"maxAttempts": 2, "initialDelay": 0}},
    "steps": [
        {"id": "charge", "function": "charge", "input": {"amount": "{{input.amount}}"},
         "metrics": {"revenue": "output.amount"}},
        {"id": "count", "function": "Metric.record",
         "input": {"orders": 1, "plan": "{{input.plan}}"}},
    ],
}  # fmt: skip


def register(engine: Engine) -> None:
    @engine.action("charge")
    async def charge(value: dict[str, Any]) -> dict[str, Any]:
        if value["amount"] < 0:
            raise ValueError("declined")
        return {"amount": value["amount"] * 2}


async def three_runs(
    engine: Engine, client: httpx.AsyncClient, keys: Keys
) -> tuple[str, list[str]]:
    """Checkout stored and activated over REST, then triggered three times: two succeed (20
    and 60 charged), one is declined twice (one retry) and fails."""
    admin = bearer(keys["acme"]["admin"])
    created = (await client.post("/~acme/workflows", headers=admin, json=CHECKOUT)).json()
    await client.post(f"/~acme/workflows/{created['$id']}/activate", headers=admin)
    runner = bearer(keys["acme"]["runner"])
    ids: list[str] = []
    for amount, plan in ((10, "pro"), (30, "basic"), (-1, "pro")):
        url = f"/~acme/workflows/{created['$id']}/trigger"
        body = {"input": {"amount": amount, "plan": plan}}
        started = await client.post(url, headers=runner, json=body)
        assert started.status_code == 202, started.text
        ids.append(started.json()["$id"])
    async with engine:
        for run_id in ids:
            with contextlib.suppress(WorkflowFailed):
                await engine.runs.handle("acme", run_id).result(timeout=10)
    return created["$id"], ids


async def test_stats_and_metrics_agree_over_rest_the_cli_and_python(
    engine: Engine, client: httpx.AsyncClient, keys: Keys, tmp_path: Path
) -> None:
    register(engine)
    workflow_id, _ = await three_runs(engine, client, keys)
    viewer = bearer(keys["acme"]["viewer"])
    stats = await client.get(f"/~acme/workflows/{workflow_id}/stats?window=1h", headers=viewer)
    assert stats.status_code == 200, stats.text
    got = stats.json()
    assert got["$type"] == "WorkflowStats" and got["workflow"] == "Checkout"
    assert {k: got["runs"][k] for k in ("total", "succeeded", "failed")} == {
        "total": 3, "succeeded": 2, "failed": 1,
    }  # fmt: skip
    assert got["successRate"] == pytest.approx(2 / 3, abs=1e-6)
    assert got["failuresByStep"] == [{"step": "charge", "failures": 1}]
    assert got["retries"] == 1 and got["duration"]["count"] == 3
    assert got["now"] == {"pending": 0, "running": 0, "waiting": 0}
    metrics = (await client.get(f"/~acme/workflows/{workflow_id}/metrics?window=1h",
                                headers=viewer)).json()  # fmt: skip
    figures = [(m["name"], m["count"], m["sum"], m["p50"]) for m in metrics["metrics"]]
    assert figures == [("revenue", 2, 80.0, 40.0), ("orders", 2, 2.0, 1.0)]  # declared order
    by_plan = (await client.get("/~acme/workflows/Checkout/metrics?name=orders&byLabels=true",
                                headers=viewer)).json()  # fmt: skip
    assert sorted(m["labels"]["plan"] for m in by_plan["metrics"]) == ["basic", "pro"]
    python = await engine.workflows.stats("acme", workflow_id, window="1h")
    assert python.wire()["runs"] == got["runs"]
    url = engine.settings.database_url
    shell = data(plait("workflows", "stats", "Checkout", "--window", "1h", "--org", "acme",
                       "--json", "--db", url, cwd=tmp_path))  # fmt: skip
    assert (shell["runs"], shell["failuresByStep"]) == (got["runs"], got["failuresByStep"])
    shown = data(plait("workflows", "metrics", workflow_id, "--window", "1h", "--org", "acme",
                       "--json", "--db", url, cwd=tmp_path))  # fmt: skip
    assert shown["metrics"] == metrics["metrics"]
    readable = plait("workflows", "stats", "Checkout", "--org", "acme", "--db", url, cwd=tmp_path)
    assert "success:   66.7%" in readable.stdout and "failed    charge: 1" in readable.stdout


async def test_a_run_read_with_include_shows_its_metrics_and_its_audit(
    engine: Engine, client: httpx.AsyncClient, keys: Keys, tmp_path: Path
) -> None:
    register(engine)
    _, ids = await three_runs(engine, client, keys)
    viewer, admin = bearer(keys["acme"]["viewer"]), bearer(keys["acme"]["admin"])
    plain = (await client.get(f"/~acme/runs/{ids[0]}", headers=viewer)).json()
    assert plain["metrics"] is None and plain["audit"] is None
    got = (await client.get(f"/~acme/runs/{ids[0]}?include=metrics", headers=viewer)).json()
    assert [(m["name"], m["value"], m["labels"], m["step"]) for m in got["metrics"]] == [
        ("revenue", 20.0, {}, "charge.metric:revenue"),
        ("orders", 1.0, {"plan": "pro"}, "count.metric:orders"),
    ]
    refused = await client.get(f"/~acme/runs/{ids[0]}?include=metrics,audit", headers=viewer)
    assert refused.status_code == 403 and "admin" in refused.json()["detail"]
    both = (await client.get(f"/~acme/runs/{ids[0]}?include=metrics,audit",
                             headers=admin)).json()  # fmt: skip
    assert both["metrics"] == got["metrics"]
    python = await engine.runs.handle("acme", ids[0]).info(include=["metrics", "audit"])
    assert python.wire()["metrics"] == got["metrics"] and python.audit is not None
    assert [(e["verb"], e["run"]) for e in both["audit"]] == [("trigger", ids[0])]
    url = engine.settings.database_url
    shell = data(plait("runs", "get", ids[0], "--include", "metrics,audit", "--org", "acme",
                       "--json", "--db", url, cwd=tmp_path))  # fmt: skip
    assert shell["metrics"] == got["metrics"] and len(shell["audit"]) == 1
    readable = plait("runs", "get", ids[0], "--include", "metrics", "--org", "acme", "--db", url,
                     cwd=tmp_path)  # fmt: skip
    assert "charge.metric:revenue  revenue = 20" in readable.stdout
    failed = (await client.get(f"/~acme/runs/{ids[2]}?include=metrics", headers=viewer)).json()
    assert failed["metrics"] == []  # the declined charge recorded nothing


async def test_prometheus_sums_the_values_by_workflow_and_metric(
    engine: Engine, client: httpx.AsyncClient, keys: Keys
) -> None:
    register(engine)
    await three_runs(engine, client, keys)
    text = (await client.get("/metrics")).text
    found = {
        (s.name, s.labels.get("metric")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("plait_business_metric") and s.labels.get("workflow") == "Checkout"
    }
    assert found == {
        ("plait_business_metric_count", "revenue"): 2.0,
        ("plait_business_metric_sum", "revenue"): 80.0,
        ("plait_business_metric_count", "orders"): 2.0,
        ("plait_business_metric_sum", "orders"): 2.0,
    }


@pytest.mark.parametrize(
    ("query", "path", "said"),
    [
        ("/stats?window=24hours", "$.query.window", "30m, 24h or 7d"),
        ("/stats?window=0h", "$.query.window", "30m, 24h or 7d"),
        ("/metrics?window=91d", "$.query.window", "stats_max_window_days"),
    ],
)
async def test_a_bad_window_is_a_problem_at_its_path(
    engine: Engine, client: httpx.AsyncClient, keys: Keys, query: str, path: str, said: str
) -> None:
    created = await engine.workflows.create("acme", CHECKOUT)
    viewer = bearer(keys["acme"]["viewer"])
    got = await client.get(f"/~acme/workflows/{created.id}{query}", headers=viewer)
    assert got.status_code == 422, got.text
    assert got.headers["content-type"].startswith("application/problem+json")
    problem = got.json()
    assert [e["path"] for e in problem["errors"]] == [path] and said in problem["detail"]


async def test_unknown_parts_workflows_and_other_organizations_are_refused(
    engine: Engine, client: httpx.AsyncClient, keys: Keys, tmp_path: Path
) -> None:
    created = await engine.workflows.create("acme", CHECKOUT)
    quiet = await engine.workflows.metrics("acme", created.id)
    assert [(m.name, m.description, m.count, m.mean) for m in quiet.metrics] == [
        ("revenue", "Charged, in euros", 0, None),
        ("orders", None, 0, None),
    ]  # declared, nothing recorded yet
    viewer = bearer(keys["acme"]["viewer"])
    run = await engine.workflows.trigger("acme", created.id, {"amount": 1, "plan": "pro"})
    unknown = await client.get(f"/~acme/runs/{run.id}?include=metrics,trace", headers=viewer)
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["path"] == "$.query.include"
    assert "'trace'" in unknown.json()["detail"]
    for url in ("/~acme/workflows/nope/stats", "/~acme/workflows/nope/metrics"):
        assert (await client.get(url, headers=viewer)).status_code == 404
    other = bearer(keys["globex"]["viewer"])
    stats = await client.get(f"/~globex/workflows/{created.id}/stats", headers=other)
    assert stats.status_code == 404
    shell = plait("workflows", "stats", created.id, "--window", "soon", "--org", "acme", "--db",
                  engine.settings.database_url, cwd=tmp_path)  # fmt: skip
    assert shell.returncode == 2 and "30m, 24h or 7d" in shell.stderr
