"""``plait worker|serve --log-format json``: one JSON object per line, with the run and step."""

from __future__ import annotations

import json
import re
import socket
from typing import Any

from .apps import logged
from .conftest import Child, Sandbox

ISO_MS_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def _lines(child: Child) -> list[dict[str, Any]]:
    """Every line the child wrote, parsed: each must be one JSON object."""
    return [json.loads(line) for line in child.output().splitlines() if line.strip()]


def _stopped(child: Child) -> list[dict[str, Any]]:
    child.terminate()
    assert child.wait(within=20) == 0, child.describe()
    return _lines(child)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _check_run_lines(lines: list[dict[str, Any]], run_id: str) -> None:
    """The lines of the run: its fields where they apply, the exception on one line."""
    assert all(ISO_MS_UTC.fullmatch(line["time"]) for line in lines)
    assert all({"level", "logger", "message"} <= line.keys() for line in lines)
    assert not any("trace_id" in line for line in lines)  # no trace context: no field
    run = {"run_id": run_id, "workflow": "pay", "org": "default"}
    paying = [line for line in lines if line["message"] == "paying 7"]
    assert len(paying) == 1 and paying[0].items() >= run.items()
    assert "step" not in paying[0] and "attempt" not in paying[0]
    charging = [line for line in lines if line["message"] == "charging 7"]
    assert [(c["step"], c["attempt"]) for c in charging] == [("charge", 1), ("charge", 2)]
    assert all(c.items() >= run.items() and c["logger"] == "apps.logged" for c in charging)
    declined = [line for line in lines if line["message"] == "the card was declined"]
    assert [d["attempt"] for d in declined] == [1, 2]
    exception = declined[0]["exception"]
    assert (exception["type"], exception["message"]) == ("ValueError", "card declined for 7")
    assert exception["traceback"].startswith("Traceback (most recent call last):")
    assert 'raise ValueError(f"card declined for {amount}")' in exception["traceback"]
    failed = [line for line in lines if line["logger"] == "plait.runtime.executor"]
    assert failed[0]["level"] == "WARNING" and failed[0]["step"] == "charge"
    assert failed[0].items() >= run.items()
    started = [line for line in lines if re.fullmatch(r"worker \S+ started", line["message"])]
    assert started and "run_id" not in started[0]  # outside any run: no run fields


def test_worker_writes_json_lines_with_the_run_and_step(sandbox: Sandbox) -> None:
    run_id = sandbox.start(logged.pay, 7)
    worker = sandbox.worker("apps.logged:engine", env={"PLAIT_LOG_FORMAT": "json"})
    assert sandbox.wait_for_end(run_id).status == "failed"

    _check_run_lines(_stopped(worker), run_id)


def test_serve_writes_json_lines_with_the_run_and_step(sandbox: Sandbox) -> None:
    server = sandbox.serve("apps.logged:engine", _free_port(), "--log-format", "json")
    run_id = sandbox.start(logged.pay, 7)
    assert sandbox.wait_for_end(run_id).status == "failed"

    lines = _stopped(server)
    _check_run_lines(lines, run_id)
    assert any(line["logger"].startswith("uvicorn") for line in lines)


def test_text_format_is_unchanged(sandbox: Sandbox) -> None:
    run_id = sandbox.start(logged.pay, 7)
    worker = sandbox.worker("apps.logged:engine", env={"PLAIT_LOG_FORMAT": "text"})
    assert sandbox.wait_for_end(run_id).status == "failed"
    worker.terminate()
    assert worker.wait(within=20) == 0, worker.describe()

    output = worker.output()
    assert not any(line.startswith("{") for line in output.splitlines())
    text = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING apps\.logged: charging 7"
    assert re.search(text, output)
    assert "Traceback (most recent call last):" in output  # multi-line, as before


def test_an_unknown_log_format_is_a_usage_error(sandbox: Sandbox) -> None:
    done = sandbox.cli("worker", "apps.logged:engine", "--log-format", "xml")

    assert done.returncode == 2
    assert "'xml' is not one of" in done.stderr
