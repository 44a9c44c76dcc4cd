"""``plait worker --metrics-port``: the worker process serves its own Prometheus metrics."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import httpx
from prometheus_client.parser import text_string_to_metric_families

from .apps import flows

if TYPE_CHECKING:
    from .conftest import Sandbox


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float] | None:
    try:
        answer = httpx.get(url, timeout=5)
    except httpx.TransportError:
        return None  # not listening yet
    assert answer.status_code == 200, answer.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def test_worker_serves_the_figures_of_the_runs_it_executed(sandbox: Sandbox) -> None:
    port = free_port()
    worker = sandbox.worker("apps.flows:engine", "--metrics-port", str(port))
    url = f"http://127.0.0.1:{port}/metrics"
    first = sandbox.wait_until(lambda: scrape(url), "the metrics endpoint")
    assert first[("plait_worker_slots", frozenset({("state", "used")}))] == 0
    run_ids = [sandbox.start(flows.greet, name) for name in ("ada", "grace")]
    for run_id in run_ids:
        assert sandbox.wait_for_end(run_id).status == "succeeded"
    labels = {("workflow", "greet"), ("status", "succeeded"), ("outcome", "succeeded")}
    ended = ("plait_runs_ended_total", frozenset(labels))
    figures = sandbox.wait_until(
        lambda: (got := scrape(url)) is not None and got.get(ended) == 2 and got, "2 runs ended"
    )
    assert figures[("plait_run_duration_seconds_count", frozenset({("workflow", "greet")}))] == 2
    # Runs were started by another process: this worker did not count them as started here.
    assert not any(name == "plait_runs_started_total" for name, _ in figures)
    assert httpx.get(f"http://127.0.0.1:{port}/other", timeout=5).status_code == 404
    worker.terminate()
    assert worker.wait(within=20) == 0, worker.describe()
