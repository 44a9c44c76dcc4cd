"""The spans themselves, on OpenTelemetry (loaded only when tracing is configured).

Names and attributes are listed in ``docs/observability.md`` ("Traces"). Every span plait
makes is a child of the current OpenTelemetry context, except a run's replays, whose parent
is the context the run stored when it was created (:meth:`Tracing.replay`).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import Token
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import orjson
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)
from opentelemetry.trace.propagation import _SPAN_KEY
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from plait.tracing.context import OWN_SPANS, current_span, enter, leave, make_current
from plait.tracing.recorder import RecordedSpan, Recorder, RecordingTracer

PROPAGATOR = TraceContextTextMapPropagator()
PAYLOAD_CHARS = 4096
"""Longest payload attribute (when payloads are enabled); longer values end with ``…``."""
_CONTEXT_HEADERS = (b"traceparent", b"tracestate")
_OK = Status(StatusCode.OK)
_STORED = re.compile(r'\{"traceparent":"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})"\}\Z')
"""A stored context of a ``traceparent`` alone (what the propagator would extract the same)."""
_EMPTY = otel_context.Context()
_OK_STATUS = (StatusCode.OK.value, None)
OWN_SPANS.add(NonRecordingSpan)  # a Span, known without isinstance's abstract class check
_SAMPLED = int(TraceFlags.SAMPLED)


class Opened:
    """A span made current until :meth:`end` (which must run in the same task)."""

    __slots__ = ("span", "token")

    def __init__(self, span: Span, parent: otel_context.Context | None) -> None:
        self.span = span
        self.token: Token[otel_context.Context] | None = make_current(span, parent)

    @property
    def trace_id(self) -> str:
        """The W3C trace id, 32 hex digits (what JSON log lines carry as ``trace_id``)."""
        span = self.span
        trace_id = span.trace_id if type(span) is RecordedSpan else span.get_span_context().trace_id
        return f"{trace_id:032x}"

    def fail(self, kind: str, message: str) -> None:
        """Mark the span failed: status ERROR, an ``exception`` event with ``kind`` (the error's
        type) and ``message`` (redacted by the caller)."""
        self.span.add_event("exception", {"exception.type": kind, "exception.message": message})
        self.span.set_status(Status(StatusCode.ERROR, f"{kind}: {message}"))

    def end(self, outcome: str | None = None, *, ok: bool = False) -> None:
        """Set ``plait.outcome`` (and status OK with ``ok``), end the span, restore the context
        it replaced."""
        span = self.span
        if type(span) is RecordedSpan and span.end_time is None:  # plait's own: set directly
            if outcome is not None:
                span.attributes["plait.outcome"] = outcome
            if ok:
                span.status = _OK_STATUS  # what set_status(OK) records
        else:
            if outcome is not None:
                span.set_attribute("plait.outcome", outcome)
            if ok:
                span.set_status(_OK)
        try:
            if self.token is not None:
                leave(self.token)
        finally:
            self.span.end()


class Current:
    """A span current for a ``with`` block and ended after it, as the SDK's
    ``start_as_current_span`` makes it (an ``Exception`` leaving the block is recorded on the
    span and sets its status to ERROR), without its three generator layers."""

    __slots__ = ("span", "token")

    def __init__(self, span: Span) -> None:
        self.span = span

    def __enter__(self) -> Span:
        self.token = make_current(self.span)
        return self.span

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        span = self.span
        try:
            leave(self.token)
            if isinstance(exc, Exception) and span.is_recording():
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        finally:
            span.end()


class Unrecorded(Opened):
    """What stands for a span in a trace that is not sampled: its parent's span, made current
    for a replay (so what the run logs and sends carries the trace) and left current for an
    attempt. Nothing is recorded, so nothing is made."""

    __slots__ = ()

    def __init__(self, span: Span, parent: otel_context.Context | None) -> None:
        self.span = span
        self.token = None if parent is None else enter(parent)

    def fail(self, kind: str, message: str) -> None:
        return None

    def end(self, outcome: str | None = None, *, ok: bool = False) -> None:
        if self.token is not None:
            leave(self.token)


class Tracing:
    """The tracer plait's hooks use, on a ``TracerProvider``."""

    def __init__(self, provider: Any = None, *, payloads: bool = False, owned: bool = False):
        self.provider = provider if provider is not None else trace.get_tracer_provider()
        self.tracer = self.provider.get_tracer("plait")
        self.follows_parent = _follows_parent(getattr(self.provider, "sampler", None))
        """Whether the sampler never records a child of an unsampled parent (the SDK's
        parent-based samplers, as configured by default): then plait does not ask it, and
        makes no span under an unsampled run (a tenth of the cost)."""
        self.recording: RecordingTracer | None = (
            self.provider.tracer if isinstance(self.provider, Recorder) else None
        )
        """plait's own tracer (:class:`RecordedSpan`), when its recorder is the provider."""
        if isinstance(self.provider, Recorder):  # plait's own pipeline asks it of roots only
            self.provider.follows_parent = self.follows_parent
        self.payloads = payloads
        """Whether spans carry payloads (inputs, outputs, event data)."""
        self.owned = owned
        """Whether plait made the provider (from settings), so it flushes and shuts it down."""

    # -- context ------------------------------------------------------------------------------

    @staticmethod
    def carrier() -> str | None:
        """The current span's context as a run stores it: what ``PROPAGATOR.inject`` writes
        (``traceparent``, and ``tracestate`` if any), as JSON."""
        span = current_span()
        if type(span) is RecordedSpan and span.trace_state is None:  # plait's own, made faster
            ids = f"{span.trace_id:032x}-{span.span_id:016x}-{span.flags:02x}"
            return f'{{"traceparent":"00-{ids}"}}'
        context = span.get_span_context()
        if not context.is_valid:
            return None
        trace_id, span_id = context.trace_id.to_bytes(16, "big"), context.span_id.to_bytes(8, "big")
        parent = f"00-{trace_id.hex()}-{span_id.hex()}-{context.trace_flags:02x}"
        if context.trace_state:
            state = context.trace_state.to_header()
            return orjson.dumps({"traceparent": parent, "tracestate": state}).decode()
        return f'{{"traceparent":"{parent}"}}'  # what orjson makes of it, made faster

    def parent(self, stored: str | None, run_id: str) -> otel_context.Context:
        """The parent of a run's replays: the context it stored, or (none stored: started
        while tracing was off, or by a schedule) a remote parent derived from its id, so that
        all its replays still share one trace."""
        plain = _STORED.match(stored) if stored else None
        if plain is not None:  # as carrier() writes it: read without a JSON parser
            trace_id, span_id = int(plain[1], 16), int(plain[2], 16)
            if trace_id and span_id:
                remote = SpanContext(trace_id, span_id, True, TraceFlags(int(plain[3], 16)))
                return trace.set_span_in_context(NonRecordingSpan(remote), _EMPTY)
        if stored:
            try:
                headers = orjson.loads(stored)
            except orjson.JSONDecodeError:
                headers = None
            if isinstance(headers, dict):
                found = PROPAGATOR.extract(headers)
                if current_span(found).get_span_context().is_valid:
                    return found
        digest = hashlib.sha256(run_id.encode()).digest()
        derived = SpanContext(
            int.from_bytes(digest[:16], "big") or 1, int.from_bytes(digest[16:24], "big") or 1,
            is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED),
        )  # fmt: skip
        return trace.set_span_in_context(NonRecordingSpan(derived))

    # -- spans --------------------------------------------------------------------------------

    @staticmethod
    def annotate(key: str, value: str) -> None:
        """Set an attribute on the current span (a step attempt's, when one is running)."""
        current_span().set_attribute(key, value)

    def run_start(self, workflow: str, org: str, trigger: str, run_id: str) -> Current:
        attributes = {"plait.workflow": workflow, "plait.org": org, "plait.trigger": trigger,
                      "plait.run_id": run_id}  # fmt: skip
        return Current(self.tracer.start_span("plait.run.start", attributes=attributes))

    def emitting(self, org: str, type: str, source: str) -> Current:
        attributes = {"plait.org": org, "plait.event.type": type, "plait.event.source": source}
        return Current(self.tracer.start_span("plait.event.emit", attributes=attributes))

    def emitted(
        self, span: Span, event_id: str, data: bytes, started: int | None, resumed: int | None
    ) -> None:
        span.set_attribute("plait.event.id", event_id)
        if started is not None and resumed is not None:
            span.set_attribute("plait.event.runs_started", started)
            span.set_attribute("plait.event.runs_resumed", resumed)
        if self.payloads:
            span.set_attribute("plait.event.data", payload(data.decode()))

    def replay(
        self, run_id: str, workflow: str, org: str, replay: int, stored: str | None
    ) -> Opened:
        """A ``plait.run.replay`` span, current until its end: one replay of a run."""
        attributes: dict[str, str | int] = {
            "plait.workflow": workflow, "plait.run_id": run_id, "plait.org": org,
            "plait.replay": replay,
        }  # fmt: skip
        recording = self.recording if self.follows_parent else None
        plain = _STORED.match(stored) if stored and recording is not None else None
        if plain is not None and recording is not None:  # plait's own span, made directly
            trace_id, span_id, flags = int(plain[1], 16), int(plain[2], 16), int(plain[3], 16)
            if trace_id and span_id and flags & _SAMPLED:
                made = recording.remote_child(trace_id, span_id, flags, "plait.run.replay",
                                              attributes)  # fmt: skip
                return Opened(made, _EMPTY)
            if trace_id and span_id:  # not sampled: its parent current, nothing recorded
                remote = NonRecordingSpan(SpanContext(trace_id, span_id, True, TraceFlags(flags)))
                return Unrecorded(remote, otel_context.Context({_SPAN_KEY: remote}))
        parent = self.parent(stored, run_id)
        if self.follows_parent:
            above = current_span(parent)
            if not above.get_span_context().trace_flags.sampled:
                return Unrecorded(above, parent)
        span = self.tracer.start_span("plait.run.replay", parent, attributes=attributes)
        return Opened(span, parent)

    def attempt(
        self, workflow: str, run_id: str, org: str, step: str, key: str, attempt: int
    ) -> Opened:
        """A ``plait.step.attempt`` span, current until its end: one attempt actually run."""
        current = current_span() if self.follows_parent else None
        if current is not None:
            if type(current) is RecordedSpan:  # plait's own: no SpanContext to make
                unsampled = not current.flags & _SAMPLED
            else:
                context = current.get_span_context()
                unsampled = context.is_valid and not context.trace_flags.sampled
            if unsampled:
                return Unrecorded(current, None)
        attributes: dict[str, str | int] = {
            "plait.workflow": workflow, "plait.run_id": run_id, "plait.org": org,
            "plait.step": step, "plait.step.key": key, "plait.attempt": attempt,
        }  # fmt: skip
        if type(current) is RecordedSpan and self.recording is not None:  # made from its parent
            return Opened(self.recording.child(current, "plait.step.attempt", attributes), None)
        return Opened(self.tracer.start_span("plait.step.attempt", attributes=attributes), None)

    def server(self, scope: Mapping[str, Any]) -> Opened:
        """The SERVER span of an API request, a child of the caller's ``traceparent``."""
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope.get("headers", ())
            if name in _CONTEXT_HEADERS
        }
        parent = PROPAGATOR.extract(headers)
        method = str(scope.get("method", ""))
        attributes = {"http.request.method": method, "url.path": str(scope.get("path", "")),
                      "url.scheme": str(scope.get("scheme", "http"))}  # fmt: skip
        span = self.tracer.start_span(method, parent, kind=SpanKind.SERVER, attributes=attributes)
        return Opened(span, parent)

    @staticmethod
    def served(opened: Opened, scope: Mapping[str, Any], status: int) -> None:
        """Name the request's span by its route, note its organization, set its status, and
        end it."""
        span = opened.span
        route = getattr(scope.get("route"), "path", None)
        if isinstance(route, str):
            span.update_name(f"{scope.get('method', '')} {route}")
            span.set_attribute("http.route", route)
        org = (scope.get("path_params") or {}).get("org")
        if isinstance(org, str) and org:
            span.set_attribute("plait.org", org)
        if status:
            span.set_attribute("http.response.status_code", status)
        if status >= 500 or status == 0:
            span.set_attribute("error.type", str(status or 500))
            span.set_status(Status(StatusCode.ERROR))
        opened.end()

    @contextmanager
    def http_client(self, method: str, url: str, headers: dict[str, str]) -> Iterator[Span]:
        """The CLIENT span of an ``http`` action's request; ``traceparent`` (its context) is
        added to ``headers`` unless the step set one itself."""
        attributes = {"http.request.method": method, **_url_attributes(url)}
        with self.tracer.start_as_current_span(
            method, kind=SpanKind.CLIENT, attributes=attributes,
            record_exception=False, set_status_on_exception=False,
        ) as span:  # fmt: skip
            if not any(name.lower() == "traceparent" for name in headers):
                PROPAGATOR.inject(headers)
            try:
                yield span
            except Exception as exc:
                span.set_attribute("error.type", type(exc).__name__)
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise

    @staticmethod
    def responded(span: Span, status: int) -> None:
        span.set_attribute("http.response.status_code", status)
        if status >= 400:
            span.set_attribute("error.type", str(status))
            span.set_status(Status(StatusCode.ERROR))

    # -- the provider ---------------------------------------------------------------------------

    def flush(self, timeout_seconds: float) -> bool:
        force_flush = getattr(self.provider, "force_flush", None)
        return force_flush is None or force_flush(int(timeout_seconds * 1000)) is not False

    def shutdown(self) -> None:
        shutdown = getattr(self.provider, "shutdown", None)
        if shutdown is not None:
            shutdown()


def _follows_parent(sampler: Any) -> bool:
    """Whether ``sampler`` drops every child of an unsampled parent, local or remote (an SDK
    ``ParentBased`` sampler with its default delegates for those)."""
    try:
        from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
    except ImportError:  # a provider of another SDK: ask it about every span
        return False
    return (
        isinstance(sampler, ParentBased)
        and getattr(sampler, "_remote_parent_not_sampled", None) is ALWAYS_OFF
        and getattr(sampler, "_local_parent_not_sampled", None) is ALWAYS_OFF
    )


def payload(text: str) -> str:
    """``text`` cut to :data:`PAYLOAD_CHARS`."""
    return text if len(text) <= PAYLOAD_CHARS else text[: PAYLOAD_CHARS - 1] + "…"


def _url_attributes(url: str) -> dict[str, Any]:
    """``url.full`` without its query and credentials, ``server.address``, ``server.port``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return {}
    host = parts.hostname or ""
    shown = f"{parts.scheme}://{host}{'' if port is None else f':{port}'}{parts.path}"
    attributes: dict[str, Any] = {"url.full": shown, "server.address": host}
    if port is not None or parts.scheme in ("http", "https"):
        attributes["server.port"] = port or (443 if parts.scheme == "https" else 80)
    return attributes


def provider_from_env(endpoint: str | None, exporter: str) -> Any:
    """The tracer provider of an OTLP/HTTP endpoint (``endpoint``, a base URL to which
    ``/v1/traces`` is added, else the ``OTEL_EXPORTER_OTLP_*`` variables): plait's own
    :class:`~plait.tracing.recorder.Recorder`, which exports from a process of its own; or, with
    ``OTEL_TRACES_EXPORTER=console``, the SDK's provider batching spans to standard output. The
    service is ``OTEL_SERVICE_NAME`` (default ``plait``); ``OTEL_RESOURCE_ATTRIBUTES``,
    ``OTEL_BSP_*``, ``OTEL_TRACES_SAMPLER`` and the span limits apply as usual."""
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource

    named = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: "plait"}
    resource = Resource.create(named)
    if exporter != "console" or endpoint:
        return Recorder(None if endpoint is None else traces_url(endpoint), resource)
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    return provider


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL of a base endpoint (``http://collector:4318`` ->
    ``http://collector:4318/v1/traces``); a URL already ending in ``/v1/traces`` is kept."""
    base = endpoint.rstrip("/")
    return base if base.endswith("/v1/traces") else f"{base}/v1/traces"
