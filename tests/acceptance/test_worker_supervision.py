"""A ``plait worker`` whose claim loop dies exits non-zero with the error and its traceback in
its log, having stopped (deregistered, its runs released) as a graceful stop does, so that a
process manager restarts it rather than leaving a worker that heart-beats and claims nothing."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import pytest

from .apps import flows

if TYPE_CHECKING:
    from .conftest import Sandbox

pytestmark = pytest.mark.timeout(60)


def test_a_worker_whose_claim_loop_dies_exits_non_zero_with_the_error_logged(
    sandbox: Sandbox,
) -> None:
    run_id = sandbox.start(flows.greet, "ada")
    worker = sandbox.worker("apps.broken_claims:engine")
    worker.expected_alive = False  # it is meant to exit

    code = worker.wait(within=20)

    output = worker.output()
    assert code == 1, worker.describe()
    assert "claim loop died; stopping the worker" in output, output
    assert "Traceback" in output and "RuntimeError: injected: claim_runs is broken" in output
    assert "stopped; 0 run(s) released" in output  # the graceful stop ran: it deregistered
    assert sandbox.run(run_id).status == "pending"  # left for a healthy worker


def test_plait_serve_whose_worker_dies_stops_serving_and_exits_non_zero(
    sandbox: Sandbox,
) -> None:
    run_id = sandbox.start(flows.greet, "ada")
    with socket.socket() as probe:  # a free port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = sandbox.serve("apps.broken_claims:engine", port)
    server.expected_alive = False  # it is meant to exit

    code = server.wait(within=20)

    output = server.output()
    assert code == 1, server.describe()
    assert "the worker died" in output and "stopping the server" in output, output
    assert "RuntimeError: injected: claim_runs is broken" in output
    assert sandbox.run(run_id).status == "pending"  # left for a healthy worker
