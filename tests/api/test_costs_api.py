"""Costs over REST, the CLI and Prometheus (brief 003 pricing): a stored definition's
``pricing`` priced on each run's end, shown on the run, summed per workflow and month by
``GET /~{org}/costs`` and ``plait costs``, counted by ``plait_run_cost_total``; and the
problems of a bad pricing or period, each at its path."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from plait import Engine
from plait.errors import WorkflowFailed
from tests.api.conftest import Keys, bearer
from tests.integration.test_service_cli import data, plait

DOCUMENTS: dict[str, Any] = {
    "name": "Document Processing",
    "dialect": "service",
    "triggerEvent": "Document.uploaded",
    "steps": [
        {"id": "ocr", "type": "function", "function": "read",
         "input": {"pages": "{{input.pages}}"}},
        {"id": "classify", "type": "function", "function": "read", "dependsOn": ["ocr"]},
        {"id": "extract", "type": "function", "function": "read", "dependsOn": ["classify"]},
        {"id": "validate", "type": "function", "function": "read", "dependsOn": ["extract"]},
    ],
    "pricing": {
        "model": "per-execution", "baseRate": 0.5,
        "stepRates": {"ocr": 0.25, "classify": 0.1, "extract": 0.15, "validate": 0.05},
        "discounts": {"volume": [{"min": 100, "max": 1000, "discount": 0.1},
                                 {"min": 1001, "max": 10000, "discount": 0.2},
                                 {"min": 10001, "discount": 0.3}]},
    },
}  # fmt: skip


def register(engine: Engine) -> None:
    @engine.action("read")
    async def read(value: Any) -> dict[str, Any]:
        if isinstance(value, dict) and value.get("pages") == 0:
            raise ValueError("an empty document")
        return {"ok": True}


async def two_runs(engine: Engine, client: httpx.AsyncClient, keys: Keys) -> list[str]:
    """Document Processing stored and activated over REST, triggered twice: one run completes
    its four steps (1.05), the other fails at its first (0.5)."""
    admin = bearer(keys["acme"]["admin"])
    created = await client.post("/~acme/workflows", headers=admin, json=DOCUMENTS)
    assert created.status_code == 201, created.text
    workflow_id = created.json()["$id"]
    await client.post(f"/~acme/workflows/{workflow_id}/activate", headers=admin)
    ids = []
    for pages in (3, 0):
        started = await client.post(f"/~acme/workflows/{workflow_id}/trigger", headers=admin,
                                    json={"input": {"pages": pages}})  # fmt: skip
        assert started.status_code == 202, started.text
        ids.append(started.json()["$id"])
    async with engine:
        for run_id in ids:
            with contextlib.suppress(WorkflowFailed):
                await engine.runs.handle("acme", run_id).result(timeout=10)
    return ids


async def test_costs_per_run_and_per_month_over_rest_cli_and_metrics(
    engine: Engine, client: httpx.AsyncClient, keys: Keys, tmp_path: Path
) -> None:
    register(engine)
    done, failed = await two_runs(engine, client, keys)
    viewer = bearer(keys["acme"]["viewer"])
    run = (await client.get(f"/~acme/runs/{done}", headers=viewer)).json()
    assert run["cost"]["currency"] == "USD" and run["cost"]["total"] == "1.05"
    assert [(i["kind"], i["name"], i["amount"]) for i in run["cost"]["lineItems"]] == [
        ("charge", "baseRate", "0.5"), ("step", "ocr", "0.25"), ("step", "classify", "0.1"),
        ("step", "extract", "0.15"), ("step", "validate", "0.05"),
    ]  # fmt: skip
    assert (await client.get(f"/~acme/runs/{failed}", headers=viewer)).json()["cost"]["total"] == (
        "0.5"
    )
    listed = (await client.get("/~acme/runs", headers=viewer)).json()["items"]
    assert all(item["cost"] is None for item in listed)  # listings leave it out
    got = await client.get("/~acme/costs", headers=viewer)
    assert got.status_code == 200, got.text
    costs = got.json()
    month = costs["from"]
    assert costs["organization"] == "acme"
    assert (costs["to"], costs["runs"], costs["totals"]) == (month, 2, {"USD": "1.55"})
    assert costs["items"] == [{"month": month, "workflow": "Document Processing",
                               "currency": "USD", "runs": 2, "total": "1.55"}]  # fmt: skip
    one = (await client.get(f"/~acme/costs?period={month}..{month}&workflow=Document%20Processing",
                            headers=viewer)).json()  # fmt: skip
    assert one["totals"] == {"USD": "1.55"} and one["workflow"] == "Document Processing"
    other = (await client.get("/~acme/costs?workflow=Other", headers=viewer)).json()
    assert other["items"] == [] and other["totals"] == {}
    theirs = (await client.get("/~globex/costs", headers=bearer(keys["globex"]["viewer"]))).json()
    assert theirs["runs"] == 0  # an organization sees only its own
    scraped = text_string_to_metric_families((await client.get("/metrics")).text)
    charged = [s for f in scraped for s in f.samples if s.name == "plait_run_cost_total"]
    assert [(s.labels, s.value) for s in charged] == [
        ({"workflow": "Document Processing", "currency": "USD"}, 1.55)
    ]
    url = engine.settings.database_url
    shell = data(plait("costs", "--org", "acme", "--json", "--db", url, cwd=tmp_path))
    assert shell == costs
    readable = plait("costs", "--org", "acme", "--period", month, "--db", url, cwd=tmp_path)
    assert "Document Processing" in readable.stdout and "Total 1.55 USD (2 runs)" in readable.stdout
    shown = plait("runs", "get", done, "--org", "acme", "--db", url, cwd=tmp_path)
    assert "cost:   1.05 USD" in shown.stdout, shown.stdout + shown.stderr


async def test_bad_periods_and_pricings_are_problems_at_their_paths(
    client: httpx.AsyncClient, keys: Keys, tmp_path: Path
) -> None:
    viewer = bearer(keys["acme"]["viewer"])
    for period in ("2026-13", "last month", "2026-05..2026-01"):
        refused = await client.get(f"/~acme/costs?period={period}", headers=viewer)
        assert refused.status_code == 422, refused.text
        assert [e["path"] for e in refused.json()["errors"]] == ["$.query.period"]
    for period in ("2027-01..", "..2027-01", ".."):  # open ranges: never one month silently
        refused = await client.get(f"/~acme/costs?period={period}", headers=viewer)
        assert refused.status_code == 422, refused.text
        assert "name both months" in refused.json()["detail"]
    bad = {**DOCUMENTS, "pricing": {"model": "per-execution", "baseRate": "lots",
                                    "stepRates": {"ocr": -1}, "discount": 0.1}}  # fmt: skip
    refused = await client.post("/~acme/workflows", headers=bearer(keys["acme"]["admin"]),
                                json=bad)  # fmt: skip
    assert refused.status_code == 422, refused.text
    assert sorted(e["path"] for e in refused.json()["errors"]) == [
        "$.body.pricing.baseRate",
        "$.body.pricing.discount",
        "$.body.pricing.stepRates.ocr",
    ]
    shell = plait("costs", "--period", "someday", "--db", f"sqlite:///{tmp_path}/x.db",
                  cwd=tmp_path)  # fmt: skip
    assert shell.returncode == 2 and "$.query.period" in shell.stderr
