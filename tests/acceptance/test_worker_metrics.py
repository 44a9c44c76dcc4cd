"""``plait worker --metrics-port``: the worker process serves its own Prometheus metrics."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ..backends import database_url
from .apps import flows
from .conftest import Sandbox

Figures = dict[tuple[str, frozenset[tuple[str, str]]], float]
SUCCEEDED = frozenset({("workflow", "greet"), ("status", "succeeded"), ("outcome", "succeeded")})
ENDED = ("plait_runs_ended_total", SUCCEEDED)
HELLO = ("plait_step_attempts_total", frozenset({("workflow", "greet"), ("step", "hello")}))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def scrape(url: str) -> Figures | None:
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
    figures = sandbox.wait_until(
        lambda: (got := scrape(url)) is not None and got.get(ENDED) == 2 and got, "2 runs ended"
    )
    assert figures[("plait_run_duration_seconds_count", frozenset({("workflow", "greet")}))] == 2
    # Runs were started by another process: this worker did not count them as started here.
    assert not any(name == "plait_runs_started_total" for name, _ in figures)
    assert httpx.get(f"http://127.0.0.1:{port}/other", timeout=5).status_code == 404
    worker.terminate()
    assert worker.wait(within=20) == 0, worker.describe()


@pytest.fixture
def pg_sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """A sandbox on a fresh PostgreSQL schema, dropped after its workers are reaped."""
    with database_url("postgres", tmp_path) as url:
        box = Sandbox(tmp_path)
        box.db_url = url
        try:
            yield box
        finally:
            box.close()


@pytest.mark.postgres
def test_two_workers_on_postgresql_each_expose_their_own_figures(pg_sandbox: Sandbox) -> None:
    sandbox, runs = pg_sandbox, 20
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{port}/metrics" for port in ports]
    for port in ports:
        sandbox.worker("apps.flows:engine", "--metrics-port", str(port))
    for url in urls:
        sandbox.wait_until(lambda url=url: scrape(url), "the metrics endpoint")
    for run_id in [sandbox.start(flows.greet, f"guest-{n}") for n in range(runs)]:
        assert sandbox.wait_for_end(run_id).status == "succeeded"
    figures: list[Figures] = [scrape(url) or {} for url in urls]
    ended = [f.get(ENDED, 0.0) for f in figures]
    # Each process counts only the runs it executed: together, every run exactly once.
    assert sum(ended) == runs, ended
    assert [f.get(HELLO, 0.0) for f in figures] == ended
    # The gauges read the shared database: both processes see the same figures.
    statuses = ("pending", "running", "waiting")
    live = [[f[("plait_runs", frozenset({("status", s)}))] for s in statuses] for f in figures]
    assert live == [[0, 0, 0], [0, 0, 0]]
