"""Traces plait exports itself (``otel_endpoint`` or the ``OTEL_*`` variables): its spans are
encoded and sent by an exporter process of its own to a real OTLP/HTTP endpoint (a receiver in
this test); a flush returns once they are there; the process stops with tracing, and one that
dies is replaced. Spans of an application's own provider: tests/integration/test_tracing.py."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from plait import Context, Engine, tracing
from plait.tracing.recorder import Recorder

pytest.importorskip("opentelemetry.exporter.otlp.proto.http", reason="no OTLP/HTTP exporter")

MakeEngine = Callable[..., Engine]


@dataclass(frozen=True)
class Received:
    name: str
    trace_id: str
    span_id: str
    parent: str
    attributes: dict[str, Any]
    service: str
    scope: str


class Collector(ThreadingHTTPServer):
    """``POST /v1/traces`` of OTLP protobuf on 127.0.0.1, each span kept as decoded."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.spans: list[Received] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def named(self, name: str) -> list[Received]:
        with self.lock:
            return [s for s in self.spans if s.name == name]


class _Handler(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        request = ExportTraceServiceRequest.FromString(body)
        found = [
            _received(span, str(_resource(spans).get("service.name")), scope.scope.name)
            for spans in request.resource_spans
            for scope in spans.scope_spans
            for span in scope.spans
        ]
        with self.server.lock:
            self.server.spans.extend(found)
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        return None


def _received(span: Any, service: str, scope: str) -> Received:
    attributes = {a.key: _value(a.value) for a in span.attributes}
    return Received(span.name, span.trace_id.hex(), span.span_id.hex(), span.parent_span_id.hex(),
                    attributes, service, scope)  # fmt: skip


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return None if kind is None else getattr(value, kind)


def _resource(spans: Any) -> dict[str, Any]:
    return {a.key: _value(a.value) for a in spans.resource.attributes}


@pytest.fixture
def collector(monkeypatch: pytest.MonkeyPatch) -> Iterator[Collector]:
    """The receiver; no OpenTelemetry variable of the caller's; tracing off again after."""
    tracing.disable()
    for name in list(os.environ):
        if name.startswith(("OTEL_", "PLAIT_OTEL_")):
            monkeypatch.delenv(name)
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        tracing.disable()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def register(engine: Engine) -> None:
    async def shout(word: str) -> str:
        return word.upper()

    @engine.workflow("echo")
    async def echo(ctx: Context, word: str) -> str:
        result: str = await ctx.step("shout", shout, word)
        return result

    @engine.workflow("family")
    async def family(ctx: Context, words: list[str]) -> list[str]:
        return [await ctx.child(echo, word) for word in words]


def recorder() -> Recorder:
    active = tracing.ACTIVE
    assert active is not None and isinstance(active.provider, Recorder)
    return active.provider


async def test_plaits_spans_reach_the_endpoint_from_an_exporter_process(
    make_engine: MakeEngine, collector: Collector
) -> None:
    engine = make_engine(otel_endpoint=collector.url)
    register(engine)
    async with engine:
        handle = await engine.start("family", ["a", "b"])
        assert await handle.result(timeout=30) == ["A", "B"]
        children = (await handle.info()).children
        assert await asyncio.to_thread(tracing.flush)  # true: all exported
        # Nothing waited for but the flush: what was ended is at the endpoint.
        replays = collector.named("plait.run.replay")
        assert sorted(str(s.attributes["plait.run_id"]) for s in replays) == sorted(
            [handle.id] * 3 + children
        )
        shipper = recorder().shipper
        exporter = shipper.process
        assert exporter is not None and exporter.poll() is None and exporter.pid != os.getpid()
    [start] = collector.named("plait.run.start")
    attempts = collector.named("plait.step.attempt")
    assert len(attempts) == 2
    assert {s.trace_id for s in collector.spans} == {start.trace_id}
    assert {s.parent for s in replays if s.attributes["plait.run_id"] == handle.id} == {
        start.span_id
    }
    by_run = {s.attributes["plait.run_id"]: s for s in replays if s.attributes["plait.run_id"]
              in children}  # fmt: skip
    assert {a.parent for a in attempts} == {s.span_id for s in by_run.values()}
    assert {(s.service, s.scope) for s in collector.spans} == {("plait", "plait")}
    assert all("plait.input" not in s.attributes for s in collector.spans)  # no payloads
    tracing.disable()  # flushes, then stops the exporter process
    assert exporter.wait(timeout=10) == 0
    assert shipper.process is None


async def test_an_exporter_process_that_dies_is_replaced(
    make_engine: MakeEngine, collector: Collector, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(otel_endpoint=collector.url)
    register(engine)
    async with engine:
        assert await (await engine.start("echo", "a")).result(timeout=30) == "A"
        assert await asyncio.to_thread(tracing.flush)
        shipper = recorder().shipper
        shipper.restart_seconds = 0.0
        first = shipper.process
        assert first is not None
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        handle = await engine.start("echo", "b")
        assert await handle.result(timeout=30) == "B"
        assert await asyncio.to_thread(tracing.flush)
        assert [s.attributes["plait.run_id"] for s in collector.named("plait.run.replay")][
            -1
        ] == handle.id
        assert shipper.process is not None and shipper.process.pid != first.pid
    assert "span exporter process exited" in caplog.text


async def test_a_trace_not_sampled_starts_no_exporter_process(
    make_engine: MakeEngine, collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_always_off")
    engine = make_engine(otel_endpoint=collector.url)
    register(engine)
    async with engine:
        assert await (await engine.start("family", ["a"])).result(timeout=30) == ["A"]
        assert await asyncio.to_thread(tracing.flush)
        shipper = recorder().shipper
        assert (shipper.thread, shipper.process) == (None, None)
    assert collector.spans == []
