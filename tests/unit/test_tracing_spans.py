"""The ``http`` action's CLIENT span on its own: which context the request sends, and what of
its URL a span may show (never a query or credentials)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from plait.tracing.otel import Tracing, traces_url


@pytest.fixture
def traced() -> Iterator[tuple[Tracing, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield Tracing(provider), exporter
    provider.shutdown()


def test_the_request_sends_its_spans_context_unless_the_step_set_one(
    traced: tuple[Tracing, InMemorySpanExporter],
) -> None:
    tracing, exporter = traced
    sent: dict[str, str] = {}
    with tracing.http_client("GET", "https://api.example/v1/x", sent) as span:
        tracing.responded(span, 200)
    own = {"TraceParent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    with tracing.http_client("GET", "https://api.example/v1/x", own) as span:
        tracing.responded(span, 503)
    first, second = exporter.get_finished_spans()
    assert first.context is not None
    trace_id, span_id = (
        format(first.context.trace_id, "032x"),
        format(first.context.span_id, "016x"),
    )
    assert list(sent) == ["traceparent"]
    assert sent["traceparent"].split("-")[:3] == ["00", trace_id, span_id]
    assert own == {"TraceParent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    assert (second.attributes or {})["error.type"] == "503"


@pytest.mark.parametrize(
    ("url", "shown", "port"),
    [
        ("https://user:pw@api.example/v1/x?token=s3cret#frag", "https://api.example/v1/x", 443),
        ("http://127.0.0.1:8080/hook?a=1", "http://127.0.0.1:8080/hook", 8080),
    ],
)
def test_a_request_span_shows_no_query_and_no_credentials(
    traced: tuple[Tracing, InMemorySpanExporter], url: str, shown: str, port: int
) -> None:
    tracing, exporter = traced
    with tracing.http_client("POST", url, {}):
        pass
    [span] = exporter.get_finished_spans()
    attributes = dict(span.attributes or {})
    assert (attributes["url.full"], attributes["server.port"]) == (shown, port)
    assert "s3cret" not in str(attributes) and "pw" not in str(attributes)


def test_the_traces_url_of_a_base_endpoint() -> None:
    assert traces_url("http://collector:4318") == "http://collector:4318/v1/traces"
    assert traces_url("http://collector:4318/") == "http://collector:4318/v1/traces"
    assert traces_url("http://c:4318/v1/traces") == "http://c:4318/v1/traces"
