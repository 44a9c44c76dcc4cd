"""The spans themselves, on OpenTelemetry (loaded only when tracing is configured).

Names and attributes are listed in ``docs/observability.md`` ("Traces"). Every span plait
makes is a child of the current OpenTelemetry context, except a run's replays, whose parent
is the context the run stored when it was created (:meth:`Tracing.replay`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import Token
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
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

PROPAGATOR = TraceContextTextMapPropagator()
PAYLOAD_CHARS = 4096
"""Longest payload attribute (when payloads are enabled); longer values end with ``…``."""
_CONTEXT_HEADERS = (b"traceparent", b"tracestate")


class Opened:
    """A span made current until :meth:`end` (which must run in the same task)."""

    __slots__ = ("span", "token")

    def __init__(self, span: Span, parent: otel_context.Context | None) -> None:
        self.span = span
        self.token: Token[otel_context.Context] | None = otel_context.attach(
            trace.set_span_in_context(span, parent)
        )

    @property
    def trace_id(self) -> str:
        """The W3C trace id, 32 hex digits (what JSON log lines carry as ``trace_id``)."""
        return format(self.span.get_span_context().trace_id, "032x")

    def fail(self, kind: str, message: str) -> None:
        """Mark the span failed: status ERROR, an ``exception`` event with ``kind`` (the error's
        type) and ``message`` (redacted by the caller)."""
        self.span.add_event("exception", {"exception.type": kind, "exception.message": message})
        self.span.set_status(Status(StatusCode.ERROR, f"{kind}: {message}"))

    def end(self, outcome: str | None = None, *, ok: bool = False) -> None:
        """Set ``plait.outcome`` (and status OK with ``ok``), end the span, restore the context
        it replaced."""
        if outcome is not None:
            self.span.set_attribute("plait.outcome", outcome)
        if ok:
            self.span.set_status(Status(StatusCode.OK))
        try:
            if self.token is not None:
                otel_context.detach(self.token)
        finally:
            self.span.end()


class Unrecorded(Opened):
    """What stands for a span in a trace that is not sampled: its parent's span, made current
    for a replay (so what the run logs and sends carries the trace) and left current for an
    attempt. Nothing is recorded, so nothing is made."""

    __slots__ = ()

    def __init__(self, span: Span, parent: otel_context.Context | None) -> None:
        self.span = span
        self.token = None if parent is None else otel_context.attach(parent)

    def fail(self, kind: str, message: str) -> None:
        return None

    def end(self, outcome: str | None = None, *, ok: bool = False) -> None:
        if self.token is not None:
            otel_context.detach(self.token)


class Tracing:
    """The tracer plait's hooks use, on a ``TracerProvider``."""

    def __init__(self, provider: Any = None, *, payloads: bool = False, owned: bool = False):
        self.provider = provider if provider is not None else trace.get_tracer_provider()
        self.tracer = self.provider.get_tracer("plait")
        self.follows_parent = _follows_parent(getattr(self.provider, "sampler", None))
        """Whether the sampler never records a child of an unsampled parent (the SDK's
        parent-based samplers, as configured by default): then plait does not ask it, and
        makes no span under an unsampled run (a tenth of the cost)."""
        self.payloads = payloads
        """Whether spans carry payloads (inputs, outputs, event data)."""
        self.owned = owned
        """Whether plait made the provider (from settings), so it flushes and shuts it down."""

    # -- context ------------------------------------------------------------------------------

    def carrier(self) -> str | None:
        headers: dict[str, str] = {}
        PROPAGATOR.inject(headers)
        if "traceparent" not in headers:
            return None
        return orjson.dumps(headers).decode()

    def parent(self, stored: str | None, run_id: str) -> otel_context.Context:
        """The parent of a run's replays: the context it stored, or (none stored: started
        while tracing was off, or by a schedule) a remote parent derived from its id, so that
        all its replays still share one trace."""
        if stored:
            try:
                headers = orjson.loads(stored)
            except orjson.JSONDecodeError:
                headers = None
            if isinstance(headers, dict):
                found = PROPAGATOR.extract(headers)
                if trace.get_current_span(found).get_span_context().is_valid:
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
        trace.get_current_span().set_attribute(key, value)

    @contextmanager
    def run_start(self, workflow: str, org: str, trigger: str, run_id: str) -> Iterator[Span]:
        attributes = {"plait.workflow": workflow, "plait.org": org, "plait.trigger": trigger,
                      "plait.run_id": run_id}  # fmt: skip
        with self.tracer.start_as_current_span("plait.run.start", attributes=attributes) as span:
            yield span

    @contextmanager
    def emitting(self, org: str, type: str, source: str) -> Iterator[Span]:
        attributes = {"plait.org": org, "plait.event.type": type, "plait.event.source": source}
        with self.tracer.start_as_current_span("plait.event.emit", attributes=attributes) as span:
            yield span

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
        parent = self.parent(stored, run_id)
        if self.follows_parent:
            above = trace.get_current_span(parent)
            if not above.get_span_context().trace_flags.sampled:
                return Unrecorded(above, parent)
        attributes: dict[str, str | int] = {
            "plait.workflow": workflow, "plait.run_id": run_id, "plait.org": org,
            "plait.replay": replay,
        }  # fmt: skip
        span = self.tracer.start_span("plait.run.replay", parent, attributes=attributes)
        return Opened(span, parent)

    def attempt(
        self, workflow: str, run_id: str, org: str, step: str, key: str, attempt: int
    ) -> Opened:
        """A ``plait.step.attempt`` span, current until its end: one attempt actually run."""
        if self.follows_parent:
            current = trace.get_current_span()
            context = current.get_span_context()
            if context.is_valid and not context.trace_flags.sampled:
                return Unrecorded(current, None)
        attributes: dict[str, str | int] = {
            "plait.workflow": workflow, "plait.run_id": run_id, "plait.org": org,
            "plait.step": step, "plait.step.key": key, "plait.attempt": attempt,
        }  # fmt: skip
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

    def flush(self, timeout_seconds: float) -> None:
        force_flush = getattr(self.provider, "force_flush", None)
        if force_flush is not None:
            force_flush(int(timeout_seconds * 1000))

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
    """A ``TracerProvider`` that batches spans to an OTLP/HTTP endpoint (``endpoint``, a base
    URL to which ``/v1/traces`` is added, else the ``OTEL_EXPORTER_OTLP_*`` variables), or to
    standard output with ``OTEL_TRACES_EXPORTER=console``. The service is ``OTEL_SERVICE_NAME``
    (default ``plait``); ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_BSP_*`` and
    ``OTEL_TRACES_SAMPLER`` apply as usual."""
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SpanExporter,
    )

    named = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: "plait"}
    provider = TracerProvider(resource=Resource.create(named))
    span_exporter: SpanExporter
    if exporter == "console" and not endpoint:
        span_exporter = ConsoleSpanExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        span_exporter = OTLPSpanExporter(
            endpoint=None if endpoint is None else traces_url(endpoint)
        )
    provider.add_span_processor(BatchSpanProcessor(span_exporter))
    return provider


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL of a base endpoint (``http://collector:4318`` ->
    ``http://collector:4318/v1/traces``); a URL already ending in ``/v1/traces`` is kept."""
    base = endpoint.rstrip("/")
    return base if base.endswith("/v1/traces") else f"{base}/v1/traces"
