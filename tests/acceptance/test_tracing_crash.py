"""A run started over HTTP with a ``traceparent``, whose process is SIGKILLed in the middle of a
step and which another worker process resumes, is one trace at a real OTLP/HTTP endpoint (a
receiver in this test): the request, the run's start, every step attempt that completed exactly
once, and the ``http`` step's request, whose ``traceparent`` carried the same trace. The first
process is configured with ``--otel-endpoint``, the second with the standard
``OTEL_EXPORTER_OTLP_ENDPOINT`` and ``OTEL_SERVICE_NAME``.

The killed process's spans that had not been exported die with it (its replay span, and the
attempt it was running, which never ended): the step re-runs on the second worker, and that
attempt is the one that completes. Spans are batched every 20 ms, and the test waits for the
first process's completed attempts to arrive before killing it; the second worker's are
flushed by its graceful stop.
"""

from __future__ import annotations

import gzip
import json
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from tests.api.conftest import free_port

from .conftest import Sandbox

pytestmark = pytest.mark.timeout(90)

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
OK, ERROR = 1, 2  # OTLP status codes


@dataclass(frozen=True)
class Received:
    """One span as the receiver decoded it."""

    name: str
    trace_id: str
    span_id: str
    parent: str
    attributes: dict[str, Any]
    status: int
    pid: int
    service: str


class Collector(ThreadingHTTPServer):
    """An OTLP/HTTP receiver on 127.0.0.1: ``POST /v1/traces`` of protobuf requests; also keeps
    the headers of any other request (the ``http`` step's target)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.spans: list[Received] = []
        self.calls: list[dict[str, str]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def named(self, name: str) -> list[Received]:
        with self.lock:
            return [s for s in self.spans if s.name == name]

    def attempts(self, step: str) -> list[Received]:
        return [s for s in self.named("plait.step.attempt") if s.attributes["plait.step"] == step]


class _Handler(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        if self.path != "/v1/traces":
            with self.server.lock:
                self.server.calls.append({k.lower(): v for k, v in self.headers.items()})
            self._answer(b'{"ok": true}', "application/json")
            return
        if self.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest.FromString(body)
        found = [
            _received(span, _resource(spans))
            for spans in request.resource_spans
            for scope in spans.scope_spans
            for span in scope.spans
        ]
        with self.server.lock:
            self.server.spans.extend(found)
        self._answer(ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf")

    def _answer(self, body: bytes, kind: str) -> None:
        self.send_response(200)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the test's output stays clean


def _received(span: Any, resource: dict[str, Any]) -> Received:
    return Received(
        span.name, span.trace_id.hex(), span.span_id.hex(), span.parent_span_id.hex(),
        {a.key: _value(a.value) for a in span.attributes}, span.status.code,
        int(resource["process.pid"]), str(resource["service.name"]),
    )  # fmt: skip


def _resource(spans: Any) -> dict[str, Any]:
    return {a.key: _value(a.value) for a in spans.resource.attributes}


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return None if kind is None else getattr(value, kind)


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def definition(target: str) -> dict[str, Any]:
    step = {"kind": "action"}
    return {"name": "traced-crash", "dialect": "canonical",
            "trigger": {"events": ["Traced.crash"]}, "steps": [
        {**step, "id": "first", "action": "record", "input": {"name": "first"}},
        {**step, "id": "call", "action": "http", "depends_on": ["first"],
         "input": {"method": "POST", "url": f"{target}/hook", "json": {"secret": "{{input.x}}"}}},
        {**step, "id": "hang", "action": "hang", "depends_on": ["call"], "input": {"name": "hang"}},
        {**step, "id": "last", "action": "record", "depends_on": ["hang"],
         "input": {"name": "last"}},
    ]}  # fmt: skip


def start_over_http(sandbox: Sandbox, base: str, key: str, target: str) -> str:
    admin = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=admin, timeout=10) as http:
        made = http.post("/~acme/workflows", json=definition(target))
        assert made.status_code == 201, made.text
        workflow = made.json()["$id"]
        assert http.post(f"/~acme/workflows/{workflow}/activate").status_code == 200
        started = http.post(f"/~acme/workflows/{workflow}/trigger",
                            headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"},
                            json={"input": {"x": "do-not-trace-me"}})  # fmt: skip
        assert started.status_code == 202, started.text
        return str(started.json()["$id"])


def up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200
    except httpx.TransportError:
        return False


def test_a_crashed_and_resumed_run_is_one_trace_at_an_otlp_endpoint(
    sandbox: Sandbox, collector: Collector
) -> None:
    sandbox.env.update({"OTEL_BSP_SCHEDULE_DELAY": "20",
                        "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "process"})  # fmt: skip
    made = sandbox.cli("keys", "create", "--org", "acme", "--role", "admin", "--json")
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)["key"]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    sandbox.probe("block").touch()
    first = sandbox.serve("apps.traced:engine", port, "--otel-endpoint", collector.url)
    sandbox.wait_until(lambda: up(base), "plait serve up")

    run_id = start_over_http(sandbox, base, key, collector.url)
    sandbox.wait_until(lambda: sandbox.probe("reached-hang").exists(), "step hang hanging")
    sandbox.wait_until(lambda: collector.attempts("first") and collector.attempts("call"),
                       "the completed attempts exported")  # fmt: skip
    assert first.kill() == -signal.SIGKILL
    sandbox.probe("block").unlink()

    # The second process is configured as operators configure any OpenTelemetry program.
    standard = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url, "OTEL_SERVICE_NAME": "plait-worker"}
    second = sandbox.worker("apps.traced:engine", env=standard)
    ended = sandbox.wait_until(lambda: sandbox.client.handle(run_id, org="acme").info().done,
                               "the run's end")  # fmt: skip
    assert ended
    assert sandbox.client.handle(run_id, org="acme").info().status == "succeeded"
    second.terminate()
    assert second.wait(within=15) == 0, second.describe()  # a graceful stop flushes its spans
    assert sandbox.step_log().count("hang") == 2  # begun by the killed process, re-run

    spans = collector.spans
    run_spans = [s for s in spans if s.attributes.get("plait.run_id") == run_id]
    [request] = [s for s in spans if s.name == "POST /~{org}/workflows/{workflow_id}/trigger"]
    [outgoing] = collector.named("POST")
    # One trace: the caller's.
    assert {s.trace_id for s in [request, outgoing, *run_spans]} == {CALLER_TRACE}
    assert request.parent == CALLER_SPAN
    assert request.pid == first.pid
    [start] = collector.named("plait.run.start")
    assert start.parent == request.span_id
    # The killed replay never ended (its span died with it); the second is under the start.
    [replay] = collector.named("plait.run.replay")
    assert (replay.pid, replay.parent) == (second.pid, start.span_id)
    assert replay.attributes["plait.outcome"] == "succeeded"
    assert replay.attributes["plait.replay"] == 2
    assert (request.service, replay.service) == ("plait", "plait-worker")
    # Every completed attempt exactly once, OK, from the process that ran it to its end.
    for step, pid in (("first", first.pid), ("call", first.pid), ("hang", second.pid),
                      ("last", second.pid)):  # fmt: skip
        [attempt] = collector.attempts(step)
        assert (attempt.status, attempt.pid, attempt.attributes["plait.attempt"]) == (OK, pid, 1)
        assert attempt.attributes["plait.workflow"] == "traced-crash"
        assert attempt.attributes["plait.org"] == "acme"
    assert {a.parent for a in collector.attempts("hang") + collector.attempts("last")} == {
        replay.span_id
    }
    # The http step sent its request's context: the caller's trace, the CLIENT span as parent.
    [call] = collector.attempts("call")
    assert outgoing.parent == call.span_id
    [headers] = collector.calls
    assert headers["traceparent"] == f"00-{CALLER_TRACE}-{outgoing.span_id}-01"
    # No payload on any span.
    for span in spans:
        assert not {"plait.input", "plait.output"} & set(span.attributes), span.name
        assert "do-not-trace-me" not in str(span.attributes), span.name
