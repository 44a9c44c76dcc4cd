"""plait's own span pipeline (``plait.tracing.recorder``, used when plait configures OTLP export
itself) makes, for the same calls, the spans the OpenTelemetry SDK makes: the same names, kinds,
attributes, statuses, events and parents, once read back by the exporter process
(``plait.tracing.exporter``). No process is started here: the spans the recorder queues are read
back in this one."""

from __future__ import annotations

import marshal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased

from plait.tracing.exporter import Spans
from plait.tracing.otel import Tracing
from plait.tracing.recorder import RecordedSpan, Recorder, encoded


class Queued:
    """A recorder whose queue is read back here instead of by an exporter process."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, **variables: str) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        self.recorder = Recorder(None, Resource.create({"service.name": "plait"}))
        self.queued: list[bytes] = []
        monkeypatch.setattr(self.recorder.shipper, "add", self.queued.append)

    def finished(self) -> list[ReadableSpan]:
        spans = Spans(self.recorder.shipper.config)
        _, batch, _ = marshal.loads(encoded(1, self.queued, False))
        return [spans.readable(item) for item in batch]


@pytest.fixture
def sdk() -> Iterator[tuple[Tracing, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield Tracing(provider), exporter
    provider.shutdown()


def one_run(tracing: Tracing) -> None:
    """What one run makes: its start (which fails once), a replay with two attempts (one
    failing), an ``http`` request, and an attribute set from inside an attempt."""
    with pytest.raises(KeyError), tracing.run_start("wf", "acme", "api", "run_1"):
        raise KeyError("gone")
    with tracing.run_start("wf", "acme", "api", "run_1"):
        stored = tracing.carrier()
    replay = tracing.replay("run_1", "wf", "acme", 2, stored)
    first = tracing.attempt("wf", "run_1", "acme", "fetch", "fetch#1", 1)
    tracing.annotate("plait.input", "[1, 2]")
    with tracing.http_client("GET", "https://api.example/x?q=1", {}) as request:
        tracing.responded(request, 503)
    first.fail("ActionError", "http 503")
    first.end("failed")
    second = tracing.attempt("wf", "run_1", "acme", "fetch", "fetch#1", 2)
    second.end("succeeded", ok=True)
    replay.end("succeeded", ok=True)


def without_stacktrace(attributes: Any) -> dict[str, Any]:
    """An event's attributes but the stack trace of an exception (its lines differ)."""
    return {k: v for k, v in (attributes or {}).items() if k != "exception.stacktrace"}


def shape(spans: list[ReadableSpan]) -> list[dict[str, Any]]:
    """What of each span does not depend on ids and clocks, its parent named."""
    names = {s.context.span_id: s.name for s in spans if s.context is not None}
    return [
        {
            "name": s.name,
            "kind": s.kind,
            "parent": None if s.parent is None else names.get(s.parent.span_id, "remote"),
            "remote parent": s.parent is not None and s.parent.is_remote,
            "attributes": dict(s.attributes or {}),
            "status": (s.status.status_code, s.status.description),
            "events": [(e.name, without_stacktrace(e.attributes)) for e in s.events],
            "scope": s.instrumentation_scope.name if s.instrumentation_scope else None,
        }
        for s in spans
    ]


def test_plaits_own_spans_are_the_spans_the_sdk_makes(
    monkeypatch: pytest.MonkeyPatch, sdk: tuple[Tracing, InMemorySpanExporter]
) -> None:
    queued = Queued(monkeypatch)
    one_run(Tracing(queued.recorder))
    tracing, exporter = sdk
    one_run(tracing)
    ours, theirs = queued.finished(), list(exporter.get_finished_spans())
    assert shape(ours) == shape(theirs)
    assert [s.name for s in ours] == [
        "plait.run.start", "plait.run.start", "GET", "plait.step.attempt",
        "plait.step.attempt", "plait.run.replay",
    ]  # fmt: skip
    failed_start = ours[0]
    [event] = failed_start.events
    assert "KeyError: 'gone'" in str((event.attributes or {})["exception.stacktrace"])
    assert {s.context.trace_id for s in ours[1:] if s.context} == {ours[1].context.trace_id}
    assert all(s.resource.attributes["service.name"] == "plait" for s in ours)


class Opaque:
    """A value of no attribute type, with no text of its own."""

    __slots__ = ()


def test_what_the_exporter_process_reads_is_within_the_sdks_span_limits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queued = Queued(monkeypatch, OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT="5",
                    OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT="2")  # fmt: skip
    exporter = InMemorySpanExporter()
    provider = TracerProvider()  # the same limits, from the same variables
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    for tracer in (queued.recorder.tracer, provider.get_tracer("plait")):
        span = tracer.start_span("s", attributes={"a": "abcdefgh"})
        span.set_attribute("b", [1, 2])
        span.set_attribute("c", "kept, cut, and the oldest dropped")
        span.set_attribute("d", {"when": Path("/tmp"), "what": Opaque()})  # type: ignore[dict-item]
        span.end()
    [ours], [theirs] = queued.finished(), exporter.get_finished_spans()
    assert dict(ours.attributes or {}) == dict(theirs.attributes or {})
    assert dict(ours.attributes or {}) == {"c": "kept,", "d": {"when": "/tmp", "what": None}}
    assert ours.dropped_attributes == theirs.dropped_attributes == 2


def test_a_span_keeps_the_sdks_rules_for_status_and_its_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queued = Queued(monkeypatch)
    span = queued.recorder.tracer.start_span("s")
    assert isinstance(span, RecordedSpan) and span.is_recording()
    span.set_status(trace.StatusCode.OK)
    span.set_status(trace.Status(trace.StatusCode.ERROR, "too late"))  # OK is final
    span.update_name("renamed")
    span.end()
    span.end()  # a second end is ignored
    span.set_attribute("late", 1)  # so is what comes after the end
    assert not span.is_recording()
    [read] = queued.finished()
    assert (read.name, read.status.status_code, dict(read.attributes or {})) == (
        "renamed", trace.StatusCode.OK, {},
    )  # fmt: skip


def test_an_unsampled_trace_queues_nothing_and_still_propagates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queued = Queued(monkeypatch, OTEL_TRACES_SAMPLER="parentbased_always_off")
    tracing = Tracing(queued.recorder)
    assert tracing.follows_parent and isinstance(queued.recorder.sampler, ParentBased)
    assert queued.recorder.sampler._root is ALWAYS_OFF
    with tracing.run_start("wf", "acme", "api", "run_1"):
        stored = tracing.carrier()
    assert stored is not None and stored.endswith('-02"}')  # a random trace id, not sampled
    replay = tracing.replay("run_1", "wf", "acme", 1, stored)
    attempt = tracing.attempt("wf", "run_1", "acme", "s", "s", 1)
    assert replay.trace_id == stored.split("-")[1]
    attempt.end("succeeded", ok=True)
    replay.end("succeeded", ok=True)
    assert queued.queued == []
