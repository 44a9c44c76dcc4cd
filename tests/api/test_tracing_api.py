"""OpenTelemetry traces of a run started over HTTP (on each backend), read from the SDK's
in-memory exporter: the caller's trace holds the request, the run's start, each replay and
each step attempt actually run (never a replayed one), the ``http`` step's request and the
``traceparent`` it sent; payloads stay out of spans unless enabled."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import httpx
import orjson
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from plait import Engine, tracing
from plait.service.signatures import sign
from plait.testing import assert_eventually
from tests.api.test_run_operations import until

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
SECRET_INPUT = "Ada Lovelace"
PAYLOAD_KEYS = {"plait.input", "plait.output", "plait.event.data"}
EVERY_ATTEMPT = [("call", 1, StatusCode.OK), ("flaky", 1, StatusCode.ERROR),
                 ("flaky", 2, StatusCode.OK), ("greet", 1, StatusCode.OK)]  # fmt: skip
"""The flow's attempts, each run once: (step, attempt, status), sorted."""


class Recorder:
    """An HTTP server on 127.0.0.1 that keeps the headers of each request and answers 200."""

    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []
        self.port = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        lines = [line.split(":", 1) for line in head.split("\r\n")[1:] if ":" in line]
        headers = {name.strip().lower(): value.strip() for name, value in lines}
        await reader.readexactly(int(headers.get("content-length", "0")))
        self.headers.append(headers)
        body = b'{"ok": true}'
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n"
                     b"content-length: %d\r\n\r\n%s" % (len(body), body))  # fmt: skip
        await writer.drain()
        writer.close()


@pytest.fixture
async def recorder() -> AsyncIterator[Recorder]:
    found = Recorder()
    server = await asyncio.start_server(found.serve, "127.0.0.1", 0)
    found.port = server.sockets[0].getsockname()[1]
    try:
        yield found
    finally:
        server.close()
        await server.wait_closed()


def exporting(payloads: bool) -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.configure(provider, payloads=payloads)
    try:
        yield exporter
    finally:
        tracing.disable()
        provider.shutdown()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    yield from exporting(payloads=False)


@pytest.fixture
def payload_spans() -> Iterator[InMemorySpanExporter]:
    yield from exporting(payloads=True)


def flow(port: int, *, wait: bool = False) -> dict[str, Any]:
    """greet (log), call (http to the recorder), [wait for Traced.resume], flaky (fails its
    first attempt, retried at once)."""
    steps: list[dict[str, Any]] = [
        {"kind": "action", "id": "greet", "action": "log",
         "input": {"message": "hello {{input.who}}"}},
        {"kind": "action", "id": "call", "action": "http", "depends_on": ["greet"],
         "input": {"method": "POST", "url": f"http://127.0.0.1:{port}/hook",
                   "json": {"who": "{{input.who}}"}}},
    ]  # fmt: skip
    last = "call"
    if wait:
        steps.append({"kind": "wait", "id": "hold", "event": "Traced.resume",
                      "depends_on": ["call"]})  # fmt: skip
        last = "hold"
    steps.append({"kind": "action", "id": "flaky", "action": "flaky", "depends_on": [last],
                  "input": {"who": "{{input.who}}"},
                  "retry": {"max_attempts": 2, "initial_delay": 0}})  # fmt: skip
    return {"name": "traced", "dialect": "canonical", "trigger": {"events": ["Traced.go"]},
            "steps": steps}  # fmt: skip


def register_flaky(engine: Engine) -> None:
    failed: set[str] = set()

    @engine.action("flaky")
    async def flaky(value: dict[str, str]) -> dict[str, str]:
        if "once" not in failed:
            failed.add("once")
            raise RuntimeError("the first attempt fails")
        return {"greeted": value["who"]}


async def activated(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str], port: int, **options: Any
) -> str:
    """Create and activate the flow, and start the worker; the workflow's id."""
    register_flaky(engine)
    await engine.start_worker()
    made = await client.post("/~acme/workflows", headers=admin, json=flow(port, **options))
    assert made.status_code == 201, made.text
    workflow_id = str(made.json()["$id"])
    activated = await client.post(f"/~acme/workflows/{workflow_id}/activate", headers=admin)
    assert activated.status_code == 200, activated.text
    return workflow_id


async def trigger(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str], port: int, **options: Any
) -> tuple[str, str]:
    """Create, activate and trigger the flow with the caller's traceparent; (workflow, run)."""
    workflow_id = await activated(client, engine, admin, port, **options)
    started = await client.post(f"/~acme/workflows/{workflow_id}/trigger",
                                headers={**admin, "traceparent": TRACEPARENT},
                                json={"input": {"who": SECRET_INPUT}})  # fmt: skip
    assert started.status_code == 202, started.text
    return workflow_id, str(started.json()["$id"])


async def replays(exporter: InMemorySpanExporter, count: int) -> list[ReadableSpan]:
    """The run's ``count`` replay spans, once all have ended (a span ends just after the
    run's end is written, which the test may see first)."""

    async def ended() -> bool:
        return len(named(exporter.get_finished_spans(), "plait.run.replay")) >= count

    await assert_eventually(ended)
    return named(exporter.get_finished_spans(), "plait.run.replay")


def hexid(number: int, digits: int) -> str:
    return format(number, f"0{digits}x")


def named(found: Sequence[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [span for span in found if span.name == name]


def parent_of(span: ReadableSpan) -> str | None:
    return None if span.parent is None else hexid(span.parent.span_id, 16)


def span_id(span: ReadableSpan) -> str:
    return hexid(span.context.span_id, 16)


def attempts(found: Sequence[ReadableSpan]) -> list[tuple[str, int, StatusCode]]:
    return sorted((str(s.attributes["plait.step"]), int(s.attributes["plait.attempt"]),  # type: ignore[index, arg-type]
                   s.status.status_code) for s in named(found, "plait.step.attempt"))  # fmt: skip


async def test_a_run_started_over_http_is_one_trace_under_the_callers_span(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str], recorder: Recorder,
    spans: InMemorySpanExporter,
) -> None:  # fmt: skip
    workflow_id, run_id = await trigger(client, engine, admin, recorder.port)
    await until(client, admin, run_id, "succeeded")
    await replays(spans, 1)
    found = spans.get_finished_spans()

    [request] = [s for s in found if s.name == "POST /~{org}/workflows/{workflow_id}/trigger"]
    assert request.kind is SpanKind.SERVER
    assert parent_of(request) == CALLER_SPAN
    assert request.attributes is not None
    assert request.attributes["http.request.method"] == "POST"
    assert request.attributes["http.route"] == "/~{org}/workflows/{workflow_id}/trigger"
    assert request.attributes["http.response.status_code"] == 202
    [start] = named(found, "plait.run.start")
    assert parent_of(start) == span_id(request)
    assert dict(start.attributes or {}) == {
        "plait.workflow": "traced", "plait.org": "acme", "plait.trigger": "manual",
        "plait.run_id": run_id,
    }  # fmt: skip
    [replay] = named(found, "plait.run.replay")
    assert parent_of(replay) == span_id(start)
    assert dict(replay.attributes or {}) == {
        "plait.workflow": "traced", "plait.run_id": run_id, "plait.org": "acme",
        "plait.replay": 1, "plait.outcome": "succeeded",
    }  # fmt: skip
    assert replay.status.status_code is StatusCode.OK

    # Each attempt run once, under the replay; the failed one is an error.
    assert attempts(found) == EVERY_ATTEMPT
    by_step = {(s.attributes or {})["plait.step"]: s for s in named(found, "plait.step.attempt")
               if (s.attributes or {})["plait.attempt"] == 1}  # fmt: skip
    for attempt in named(found, "plait.step.attempt"):
        assert parent_of(attempt) == span_id(replay)
        attributes = attempt.attributes or {}
        assert attributes["plait.workflow"] == "traced"
        assert attributes["plait.run_id"] == run_id
        assert attributes["plait.org"] == "acme"
    failed = by_step["flaky"]
    assert (failed.attributes or {})["plait.outcome"] == "failed"
    assert failed.status.description == "RuntimeError: the first attempt fails"
    assert [e.name for e in failed.events] == ["exception"]

    # The http step's request: a CLIENT span under its attempt, whose context it sent.
    [outgoing] = named(found, "POST")
    assert outgoing.kind is SpanKind.CLIENT
    assert parent_of(outgoing) == span_id(by_step["call"])
    assert dict(outgoing.attributes or {}) == {
        "http.request.method": "POST", "url.full": f"http://127.0.0.1:{recorder.port}/hook",
        "server.address": "127.0.0.1", "server.port": recorder.port,
        "http.response.status_code": 200,
    }  # fmt: skip
    [headers] = recorder.headers
    assert headers["traceparent"] == f"00-{CALLER_TRACE}-{span_id(outgoing)}-01"

    # One trace (the test's other requests are traces of their own), and no payload anywhere.
    traced = [s for s in found if hexid(s.context.trace_id, 32) == CALLER_TRACE]
    assert sorted(s.name for s in traced) == sorted(
        [request.name, "plait.run.start", "plait.run.replay", "POST"] + ["plait.step.attempt"] * 4
    )
    assert [s for s in found if (s.attributes or {}).get("plait.run_id") == run_id] == [
        s for s in traced if s.name.startswith("plait.")
    ]
    for span in found:
        attributes = dict(span.attributes or {})
        assert not PAYLOAD_KEYS & set(attributes), span.name
        assert not [v for v in attributes.values() if SECRET_INPUT in str(v)], span.name
    assert workflow_id not in {s.name for s in found}


async def test_a_resumed_run_continues_its_trace_and_replays_no_span(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str], recorder: Recorder,
    spans: InMemorySpanExporter,
) -> None:  # fmt: skip
    _, run_id = await trigger(client, engine, admin, recorder.port, wait=True)
    await until(client, admin, run_id, "waiting")
    other = "0af7651916cd43dd8448eb211c80319c"
    resume = {**admin, "traceparent": f"00-{other}-b7ad6b7169203331-01"}
    emitted = await client.post("/~acme/events", json={"type": "Traced.resume", "data": {}},
                                headers=resume)  # fmt: skip
    assert emitted.status_code == 202, emitted.text
    await until(client, admin, run_id, "succeeded")

    both = sorted(await replays(spans, 2),
                  key=lambda s: int((s.attributes or {})["plait.replay"]))  # type: ignore[arg-type]  # fmt: skip
    found = spans.get_finished_spans()
    [start] = named(found, "plait.run.start")
    assert [(s.attributes or {})["plait.outcome"] for s in both] == ["waiting", "succeeded"]
    assert [parent_of(s) for s in both] == [span_id(start), span_id(start)]
    assert {hexid(s.context.trace_id, 32) for s in both} == {CALLER_TRACE}
    # greet and call ran before the wait: the second replay replays them without a span.
    assert attempts(found) == EVERY_ATTEMPT
    late = {s.attributes["plait.step"] for s in named(found, "plait.step.attempt")  # type: ignore[index]
            if parent_of(s) == span_id(both[1])}  # fmt: skip
    assert late == {"flaky"}
    # The emit is a span of the emitter's trace, which resumed the run.
    [emit] = [s for s in named(found, "plait.event.emit")
              if (s.attributes or {})["plait.event.type"] == "Traced.resume"]  # fmt: skip
    assert hexid(emit.context.trace_id, 32) == other
    assert dict(emit.attributes or {}) == {
        "plait.org": "acme", "plait.event.type": "Traced.resume", "plait.event.source": "api",
        "plait.event.id": emitted.json()["$id"], "plait.event.runs_started": 0,
        "plait.event.runs_resumed": 1,
    }  # fmt: skip


async def test_payloads_appear_on_spans_only_when_enabled(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str], recorder: Recorder,
    payload_spans: InMemorySpanExporter,
) -> None:  # fmt: skip
    _, run_id = await trigger(client, engine, admin, recorder.port)
    await until(client, admin, run_id, "succeeded")
    await replays(payload_spans, 1)
    found = payload_spans.get_finished_spans()

    by_attempt = {
        (str(a["plait.step"]), a["plait.attempt"]): s
        for s in named(found, "plait.step.attempt")
        if (a := s.attributes or {})
    }
    succeeded = by_attempt[("flaky", 2)].attributes or {}
    assert succeeded["plait.input"] == f'{{"who":"{SECRET_INPUT}"}}'
    assert succeeded["plait.output"] == f'{{"greeted":"{SECRET_INPUT}"}}'
    assert "plait.output" not in (by_attempt[("flaky", 1)].attributes or {})  # it failed
    [replay] = named(found, "plait.run.replay")
    assert SECRET_INPUT in str((replay.attributes or {})["plait.output"])


async def send_event(client: httpx.AsyncClient, admin: dict[str, str], via: str) -> str:
    """``Traced.go`` with the caller's traceparent, emitted over the API or delivered to a
    signed webhook; the event's id."""
    data = {"who": SECRET_INPUT}
    if via == "api":
        sent = await client.post("/~acme/events", json={"type": "Traced.go", "data": data},
                                 headers={**admin, "traceparent": TRACEPARENT})  # fmt: skip
    else:
        hook = {"name": "gh", "secret": "s3cret", "scheme": "github", "eventType": "Traced.go"}
        made = await client.post("/~acme/webhooks", headers=admin, json=hook)
        assert made.status_code == 201, made.text
        body = orjson.dumps(data)
        signed = sign("github", "s3cret", body, timestamp=None)
        sent = await client.post("/~acme/webhooks/gh", content=body, headers={
            **signed, "X-GitHub-Delivery": "delivery-1", "traceparent": TRACEPARENT})  # fmt: skip
    assert sent.status_code == 202, sent.text
    return str(sent.json()["$id"])


@pytest.mark.parametrize(("via", "route"), [("api", "/~{org}/events"),
                                            ("webhook", "/~{org}/webhooks/{name}")])  # fmt: skip
async def test_a_run_an_event_starts_continues_the_trace_of_the_request_that_sent_it(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str], recorder: Recorder,
    spans: InMemorySpanExporter, via: str, route: str,
) -> None:  # fmt: skip
    await activated(client, engine, admin, recorder.port)
    event_id = await send_event(client, admin, via)
    [run] = (await engine.runs.find("acme", workflow="traced")).items
    await until(client, admin, run.id, "succeeded")
    [replay] = await replays(spans, 1)
    found = spans.get_finished_spans()

    [request] = [s for s in found if s.name == f"POST {route}"]
    assert parent_of(request) == CALLER_SPAN
    assert (request.attributes or {})["plait.org"] == "acme"
    [emit] = [s for s in named(found, "plait.event.emit")
              if (s.attributes or {})["plait.event.type"] == "Traced.go"]  # fmt: skip
    assert parent_of(emit) == span_id(request)
    attributes = emit.attributes or {}
    assert (attributes["plait.event.type"], attributes["plait.event.source"],
            attributes["plait.event.id"]) == ("Traced.go", via, event_id)  # fmt: skip
    # The event stored the emit's context: the run it started runs under it, in one trace.
    assert parent_of(replay) == span_id(emit)
    assert (replay.attributes or {})["plait.run_id"] == run.id
    assert attempts(found) == EVERY_ATTEMPT
    traced = [s for s in found if hexid(s.context.trace_id, 32) == CALLER_TRACE]
    assert {s.name for s in traced} == {request.name, "plait.event.emit", "plait.run.replay",
                                        "plait.step.attempt", "POST"}  # fmt: skip
    [headers] = recorder.headers
    assert headers["traceparent"].split("-")[1] == CALLER_TRACE
    for span in found:
        assert SECRET_INPUT not in str(dict(span.attributes or {})), span.name


@pytest.mark.parametrize("via", ["api", "webhook"])
async def test_with_payloads_an_emit_carries_the_events_data(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str], recorder: Recorder,
    payload_spans: InMemorySpanExporter, via: str,
) -> None:  # fmt: skip
    await activated(client, engine, admin, recorder.port)
    event_id = await send_event(client, admin, via)
    [emit] = [s for s in named(payload_spans.get_finished_spans(), "plait.event.emit")
              if (s.attributes or {})["plait.event.type"] == "Traced.go"]  # fmt: skip
    attributes = emit.attributes or {}
    assert attributes["plait.event.id"] == event_id
    assert attributes["plait.event.data"] == f'{{"who":"{SECRET_INPUT}"}}'
    counted = {"plait.event.runs_started", "plait.event.runs_resumed"} <= set(attributes)
    assert counted is (via == "api")  # a webhook delivery does not count them
