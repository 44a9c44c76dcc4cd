"""plait's own tracing pipeline, used when plait configures OTLP export from settings
(``otel_endpoint`` or the ``OTEL_*`` variables): spans recorded cheaply in the process that runs
the workflows, encoded and exported in another.

The OpenTelemetry SDK spends about 25 µs making and ending a span and its OTLP exporter about
60 µs encoding one, on the same GIL as the event loop, where a 3-step run of no-op steps costs
about 600 µs and makes 5 spans. So when plait owns the pipeline its spans are
:class:`RecordedSpan`: an OpenTelemetry ``Span`` (current in the context like any other, so
propagation, log fields and the application's own spans see it) that keeps its fields in slots
and, when it ends, queues them as one tuple. A thread sends the queue in batches
(``OTEL_BSP_MAX_EXPORT_BATCH_SIZE`` or every ``OTEL_BSP_SCHEDULE_DELAY``; at most
``OTEL_BSP_MAX_QUEUE_SIZE`` waiting, as the SDK's batching processor does) through a pipe to an
exporter process (:mod:`plait.tracing.exporter`, started with the first span), which makes the
SDK's ``ReadableSpan`` of each and exports them with the SDK's ``OTLPSpanExporter``: the same
spans on the wire, the protobuf work on another core.

What the SDK's provider does that plait uses is kept: its sampler (``OTEL_TRACES_SAMPLER``),
id generator and resource (made here, so ``process.pid`` is this process's); span limits apply
in the exporter process. An application that passes its own provider to
:func:`plait.tracing.configure` gets the SDK's spans and its own processors, as before.
"""

from __future__ import annotations

import atexit
import logging
import marshal
import os
import subprocess
import sys
import threading
import time
import traceback
import weakref
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from random import getrandbits
from types import TracebackType
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)
from opentelemetry.util.types import Attributes, AttributeValue

from plait.tracing.context import OWN_SPANS, current_span

log = logging.getLogger(__name__)

SCOPE = "plait"
"""The instrumentation scope of plait's spans."""
_SAMPLED = int(TraceFlags.SAMPLED)
_RANDOM = int(TraceFlags.RANDOM_TRACE_ID)
_SCALARS = (str, bool, int, float)
_PLAIN = (str, bytes, bool, int, float)
_OK = StatusCode.OK.value
_PIPE_BYTES = 1 << 20
"""The span pipe's capacity asked of Linux (``F_SETPIPE_SZ``): a burst waits there, not in
this process's queue."""


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    try:
        value = int(raw) if raw else default
    except ValueError:
        log.warning("%s=%r is not a whole number; using %d", name, raw, default)
        return default
    return value if value > 0 else default


class Recorder(trace.TracerProvider):
    """The tracer provider plait makes for OTLP export (see the module's docstring)."""

    def __init__(self, endpoint: str | None, resource: Any = None) -> None:
        # The SDK's provider reads the sampler, id generator and resource from the environment
        # exactly as it would for its own spans; plait makes none with it.
        made = TracerProvider(resource=resource, shutdown_on_exit=False)
        self.sampler = made.sampler
        self.resource = made.resource
        self.id_generator = made.id_generator
        self.follows_parent = False
        """Set by :class:`plait.tracing.otel.Tracing`: whether a span follows its parent's
        sampling decision (then the sampler is asked of roots only)."""
        self.shipper = Shipper(endpoint, dict(self.resource.attributes),
                               self.resource.schema_url)  # fmt: skip
        self.tracer = RecordingTracer(self)
        atexit.register(_shutdown_at_exit, weakref.ref(self))

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes = None,
    ) -> RecordingTracer:
        return self.tracer

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Send the spans queued and wait until the exporter process has exported them."""
        return self.shipper.flush(timeout_millis / 1000)

    def shutdown(self) -> None:
        """Flush, then stop the exporter process."""
        self.shipper.close()


def _shutdown_at_exit(ref: weakref.ref[Recorder]) -> None:
    recorder = ref()
    if recorder is not None:
        recorder.shutdown()


class RecordingTracer(trace.Tracer):
    """Makes :class:`RecordedSpan` (sampled) and ``NonRecordingSpan`` (not sampled)."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self._random_ids = bool(recorder.id_generator.is_trace_id_random())
        self._random_span_ids = type(recorder.id_generator) is RandomIdGenerator
        self._roots_sampled = _samples_every_root(recorder.sampler)

    def _span_id(self) -> int:
        """A new span id, as the id generator makes it (the default one's without a call)."""
        span_id = getrandbits(64) if self._random_span_ids else 0
        return span_id or self.recorder.id_generator.generate_span_id()

    def child(self, parent: RecordedSpan, name: str, attributes: dict[str, Any]) -> RecordedSpan:
        """What ``start_span(name, attributes=attributes)`` makes under ``parent``, sampled,
        when the sampler follows its parent: the caller checked ``recorder.follows_parent`` and
        that ``parent`` is sampled. Its fields come from the parent's; ``attributes`` is the
        span's own (not copied)."""
        flags = (parent.flags & _RANDOM) | _SAMPLED
        return RecordedSpan(
            self.recorder.shipper, name, parent.trace_id, self._span_id(), parent.span_id, False,
            flags, parent.trace_state, SpanKind.INTERNAL, attributes, None, None, True, True,
        )  # fmt: skip

    def remote_child(
        self, trace_id: int, parent_id: int, parent_flags: int, name: str,
        attributes: dict[str, Any],
    ) -> RecordedSpan:  # fmt: skip
        """As :meth:`child`, under a sampled remote parent without trace state (a run's stored
        ``traceparent``)."""
        flags = (parent_flags & _RANDOM) | _SAMPLED
        return RecordedSpan(
            self.recorder.shipper, name, trace_id, self._span_id(), parent_id, True, flags, None,
            SpanKind.INTERNAL, attributes, None, None, True, True,
        )  # fmt: skip

    def start_span(
        self,
        name: str,
        context: Any = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = (),
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace.Span:
        recorder = self.recorder
        ids = recorder.id_generator
        parent = current_span(context)
        if type(parent) is RecordedSpan:  # plait's own: no SpanContext to make
            trace_id, parent_id, remote = parent.trace_id, parent.span_id, False
            parent_flags, trace_state = parent.flags, parent.trace_state
        else:
            above = parent.get_span_context()
            trace_id, parent_id, remote = above.trace_id, above.span_id, above.is_remote
            parent_flags, trace_state = int(above.trace_flags), above.trace_state
            if not above.is_valid:
                trace_id, parent_id = ids.generate_trace_id(), 0
                parent_flags, trace_state = _RANDOM if self._random_ids else 0, None
        span_attributes: dict[str, Any] = dict(attributes) if attributes else {}
        if parent_id and recorder.follows_parent:
            recording = sampled = bool(parent_flags & _SAMPLED)
        elif not parent_id and self._roots_sampled:  # what the sampler would decide, unasked
            recording = sampled = True
        else:
            decided = recorder.sampler.should_sample(context, trace_id, name, kind, attributes,
                                                     links)  # fmt: skip
            sampled = decided.decision is Decision.RECORD_AND_SAMPLE
            recording = decided.decision is not Decision.DROP
            span_attributes = dict(decided.attributes)
            trace_state = decided.trace_state
        flags = (parent_flags & _RANDOM) | (_SAMPLED if sampled else 0)
        span_id = ids.generate_span_id()
        if not recording:
            return NonRecordingSpan(
                SpanContext(trace_id, span_id, False, TraceFlags(flags), trace_state)
            )
        return RecordedSpan(
            recorder.shipper if sampled else None, name, trace_id, span_id, parent_id, remote,
            flags, trace_state, kind, span_attributes, links, start_time,
            record_exception, set_status_on_exception,
        )  # fmt: skip

    @contextmanager
    def start_as_current_span(  # type: ignore[override]  # the API's own context manager type
        self,
        name: str,
        context: Any = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = (),
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[trace.Span]:
        span = self.start_span(name, context, kind, attributes, links, start_time,
                               record_exception, set_status_on_exception)  # fmt: skip
        with trace.use_span(
            span, end_on_exit=end_on_exit, record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        ) as current:  # fmt: skip
            yield current


def _samples_every_root(sampler: Any) -> bool:
    """Whether ``sampler`` records and samples every root span, adding no attributes and no
    trace state (the SDK's default: ``ParentBased`` over ``ALWAYS_ON``)."""
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased

    return sampler is ALWAYS_ON or (
        isinstance(sampler, ParentBased) and getattr(sampler, "_root", None) is ALWAYS_ON
    )


class RecordedSpan(trace.Span):
    """A sampled span of plait's own pipeline: it records as the SDK's span does (attributes,
    events, links, status, a name that may change) and, when it ends, queues its fields for the
    exporter process (``shipper`` ``None``: recorded, not sampled, so never exported)."""

    __slots__ = (
        "_context", "attributes", "end_time", "events", "flags", "kind", "links", "name",
        "parent_id", "record_exception_on_exit", "remote", "set_status_on_exit", "shipper",
        "span_id", "start_time", "status", "trace_id", "trace_state",
    )  # fmt: skip

    def __init__(
        self, shipper: Shipper | None, name: str, trace_id: int, span_id: int, parent_id: int,
        remote: bool, flags: int, trace_state: TraceState | None, kind: SpanKind,
        attributes: dict[str, Any], links: Sequence[Link] | None, start_time: int | None,
        record_exception: bool, set_status_on_exception: bool,
    ) -> None:  # fmt: skip
        self.shipper = shipper
        self.name = name
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_id = parent_id
        self.remote = remote
        self.flags = flags
        self.trace_state = trace_state
        self.kind = kind
        self.attributes = attributes
        self.links: list[Link] | None = list(links) if links else None
        self.events: list[tuple[str, int, dict[str, Any]]] | None = None
        self.status: tuple[int, str | None] | None = None
        self.start_time = start_time if start_time is not None else time.time_ns()
        self.end_time: int | None = None
        self.record_exception_on_exit = record_exception
        self.set_status_on_exit = set_status_on_exception
        self._context: SpanContext | None = None

    def get_span_context(self) -> SpanContext:
        context = self._context
        if context is None:
            context = self._context = SpanContext(
                self.trace_id, self.span_id, False, TraceFlags(self.flags), self.trace_state
            )
        return context

    def is_recording(self) -> bool:
        return self.end_time is None

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        if self.end_time is not None:
            log.warning("Setting attribute on ended span.")
            return
        # The exporter process checks and cuts values as the SDK does (``BoundedAttributes``).
        self.attributes[key] = value if type(value) in _SCALARS else _frozen(value)

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None:
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def add_event(
        self, name: str, attributes: Attributes = None, timestamp: int | None = None
    ) -> None:
        if self.end_time is not None:
            log.warning("Calling add_event() on an ended span.")
            return
        event = (name, timestamp if timestamp is not None else time.time_ns(),
                 _frozen_attributes(attributes))  # fmt: skip
        if self.events is None:
            self.events = [event]
        else:
            self.events.append(event)

    def add_link(self, context: SpanContext, attributes: Attributes = None) -> None:
        if self.end_time is not None:
            log.warning("Calling add_link() on an ended span.")
            return
        if not context.is_valid and not attributes and not context.trace_state:
            return  # what the SDK ignores
        link = Link(context, _frozen_attributes(attributes))
        if self.links is None:
            self.links = [link]
        else:
            self.links.append(link)

    def update_name(self, name: str) -> None:
        if self.end_time is None:
            self.name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        # As the SDK: OK is final, UNSET is ignored, a description only ever qualifies ERROR.
        if self.status is not None and self.status[0] == _OK:
            return
        if isinstance(status, Status):
            code, description = status.status_code, status.description
        else:
            code = status
        if code is StatusCode.UNSET:
            return
        self.status = (code._value_, description if code is StatusCode.ERROR else None)

    def record_exception(
        self,
        exception: BaseException,
        attributes: Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        kind = type(exception)
        module, qualname = kind.__module__, kind.__qualname__
        recorded: dict[str, Any] = {
            "exception.type": f"{module}.{qualname}" if module and module != "builtins"
            else qualname,
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }  # fmt: skip
        if attributes:
            recorded.update(attributes)
        self.add_event("exception", recorded, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self.end_time is not None:
            log.warning("Calling end() on an ended span.")
            return
        self.end_time = end = end_time if end_time is not None else time.time_ns()
        if self.shipper is not None:
            state = self.trace_state
            self.shipper.add(packed((
                self.name, self.trace_id, self.span_id, self.parent_id, self.remote, self.flags,
                state.to_header() if state else None, self.kind._value_, self.start_time, end,
                self.attributes, self.events, self.status,
                None if self.links is None else [_link(link) for link in self.links],
            )))  # fmt: skip

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        if exc_val is not None and self.is_recording():
            if self.record_exception_on_exit:
                self.record_exception(exc_val, escaped=True)
            if self.set_status_on_exit:
                self.set_status(Status(StatusCode.ERROR, f"{type(exc_val).__name__}: {exc_val}"))
        super().__exit__(exc_type, exc_val, exc_tb)


OWN_SPANS.add(RecordedSpan)


def packed(span: tuple[Any, ...]) -> bytes:
    """An ended span's fields as the exporter process reads them: ``marshal`` (plain values:
    the fastest to write and to read). Queued as bytes, which the garbage collector does not
    track: a queue of tuples and dicts waiting for their batch would survive young collections
    and bring on full ones, the costliest part of tracing a run."""
    try:
        return marshal.dumps(span)
    except ValueError:  # a value it cannot carry, from an application's span
        return marshal.dumps(_carried(span))


def encoded(sequence: int, batch: list[bytes], wait: bool) -> bytes:
    """A message to the exporter process: a batch of :func:`packed` spans, numbered, and
    whether to acknowledge it."""
    return marshal.dumps((sequence, batch, wait))


def _frozen_attributes(attributes: Attributes) -> dict[str, Any]:
    return {key: _frozen(value) for key, value in attributes.items()} if attributes else {}


def _frozen(value: Any) -> Any:
    """A copy of an attribute value that its caller can no longer change, as the SDK keeps
    one: sequences as tuples, mappings as dicts, a subclass of a plain type (an ``IntEnum``) as
    that type."""
    if value is None or type(value) in _PLAIN:
        return value
    for kind in _PLAIN:
        if isinstance(value, kind):
            return kind(value)  # type: ignore[arg-type]  # value is an instance of kind
    if isinstance(value, Sequence):
        return tuple(_frozen(item) for item in value)
    if isinstance(value, Mapping):
        return {key: _frozen(item) for key, item in value.items()}
    return value  # not an attribute value: see _carried


def _carried(value: Any) -> Any:
    """``value`` with what ``marshal`` cannot carry (not an attribute value) replaced, as the
    SDK replaces it: by its ``str()`` when its type has one of its own, else by ``None``."""
    if value is None or type(value) in _PLAIN:
        return value
    if type(value) is tuple or type(value) is list:
        return tuple(_carried(item) for item in value)
    if type(value) is dict:
        return {_carried(key): _carried(item) for key, item in value.items()}
    kind: Any = type(value)
    own = kind.__str__ is not object.__str__ or kind.__repr__ is not object.__repr__
    return str(value) if own else None


def _link(link: Link) -> tuple[int, int, bool, int, str | None, dict[str, Any]]:
    context = link.context
    state = context.trace_state
    return (context.trace_id, context.span_id, context.is_remote, int(context.trace_flags),
            state.to_header() if state else None, _frozen_attributes(link.attributes))  # fmt: skip


class Shipper:
    """The queue of ended spans and the thread that sends it, in batches, to the exporter
    process (started by that thread when it first has spans to send)."""

    restart_seconds = 10.0
    """An exporter process that exits is started again, at most once per this many seconds."""

    def __init__(self, endpoint: str | None, resource: dict[str, Any], schema_url: str) -> None:
        self.batch = _env_int("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512)
        self.config = {"endpoint": endpoint, "resource": resource, "schema_url": schema_url,
                       "scope": SCOPE, "batch": self.batch}  # fmt: skip
        self.limit = max(_env_int("OTEL_BSP_MAX_QUEUE_SIZE", 2048), self.batch)
        self.delay = _env_int("OTEL_BSP_SCHEDULE_DELAY", 5000) / 1000
        self.export_seconds = _env_int("OTEL_BSP_EXPORT_TIMEOUT", 30_000) / 1000
        self.dropped = 0
        self._reset()
        ref = weakref.ref(self)  # a forked child starts a queue, thread and process of its own
        os.register_at_fork(after_in_child=lambda: _reset(ref))

    def _reset(self) -> None:
        self.pending: deque[bytes] = deque()
        self.lock = threading.Lock()  # of what follows
        self.wake = threading.Event()
        self.flushes: list[threading.Event] = []
        self.closing = False
        self.thread: threading.Thread | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.spans_out: Connection | None = None
        self.acks_in: Connection | None = None
        self.started_at = 0.0
        self.sequence = 0

    # -- the event loop's side ----------------------------------------------------------------

    def add(self, span: bytes) -> None:
        """Queue one ended span (:func:`packed`) (dropped, as the SDK's batching processor drops
        them, when ``OTEL_BSP_MAX_QUEUE_SIZE`` are already waiting)."""
        pending = self.pending  # a deque: appended here and drained by the thread, no lock
        if len(pending) >= self.limit or self.closing:
            self._drop()
            return
        pending.append(span)
        if len(pending) == self.batch or self.thread is None:
            self._wake()

    def _wake(self) -> None:
        with self.lock:
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="plait-spans", daemon=True)
                self.thread.start()
        self.wake.set()

    def _drop(self) -> None:
        if self.closing:
            return  # shut down: what ends now is not exported
        self.dropped += 1
        if self.dropped == 1:
            log.warning("the span queue is full (OTEL_BSP_MAX_QUEUE_SIZE=%d): spans are dropped",
                        self.limit)  # fmt: skip

    def flush(self, timeout_seconds: float) -> bool:
        """Send what is queued; wait (at most ``timeout_seconds``) until it is exported."""
        done = threading.Event()
        with self.lock:
            if self.thread is None:
                return True  # no span yet
            self.flushes.append(done)
        self.wake.set()
        return done.wait(timeout_seconds)

    def close(self) -> None:
        """Flush, then stop the thread and the exporter process."""
        with self.lock:
            thread, self.closing = self.thread, True
        if thread is None:
            return
        self.wake.set()
        thread.join(self.export_seconds + 5)

    # -- the sending thread -------------------------------------------------------------------

    def _run(self) -> None:
        pending = self.pending
        while True:
            if len(pending) < self.batch:
                self.wake.wait(self.delay)
            self.wake.clear()
            with self.lock:
                flushes, self.flushes = self.flushes, []
                closing = self.closing
            batch = [pending.popleft() for _ in range(len(pending))]
            if batch or flushes or closing:
                self._send(batch, wait=bool(flushes) or closing)
            for done in flushes:
                done.set()
            if closing:
                self._stop()
                return

    def _send(self, batch: list[bytes], *, wait: bool) -> None:
        """Send ``batch`` to the exporter process (started if need be, and once more if it
        died); with ``wait``, until it has exported it and everything before."""
        if not batch and self.spans_out is None:
            return  # nothing was ever sent: nothing to wait for
        self.sequence += 1
        message = encoded(self.sequence, batch, wait)
        for again in (False, True):
            if self.spans_out is None and not self._start():
                break
            try:
                self._deliver(message, wait)
                return
            except (OSError, EOFError):
                code = None if self.process is None else self.process.poll()
                log.warning("the span exporter process exited (code %s)%s", code,
                            "" if again else "; starting another")  # fmt: skip
                self._stop()
        self.dropped += len(batch)
        log.warning("%d spans lost: no span exporter process", len(batch))

    def _deliver(self, message: bytes, wait: bool) -> None:
        assert self.spans_out is not None and self.acks_in is not None
        self.spans_out.send_bytes(message)
        if not wait:
            return
        deadline = time.monotonic() + self.export_seconds
        while self.acks_in.poll(max(0.0, deadline - time.monotonic())):
            if int.from_bytes(self.acks_in.recv_bytes(), "big") == self.sequence:
                return
        log.warning("spans not exported within %.0f s of a flush", self.export_seconds)

    def _start(self) -> bool:
        """Start the exporter process; ``False`` if it cannot be (now)."""
        if self.started_at and time.monotonic() - self.started_at < self.restart_seconds:
            return False
        self.started_at = time.monotonic()
        spans_in, spans_out = os.pipe()
        acks_in, acks_out = os.pipe()
        _widen(spans_out)
        env = dict(os.environ)
        found = str(Path(__file__).resolve().parents[2])  # where this plait is imported from
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [found, env.get("PYTHONPATH")]))
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "plait.tracing.exporter", str(spans_in), str(acks_out)],
                pass_fds=(spans_in, acks_out), stdin=subprocess.DEVNULL, env=env,
            )  # fmt: skip
        except OSError as exc:
            log.error("cannot start the span exporter process: %s", exc)
            for fd in (spans_in, spans_out, acks_in, acks_out):
                os.close(fd)
            return False
        os.close(spans_in)
        os.close(acks_out)
        self.process = process
        self.spans_out = Connection(spans_out, readable=False)
        self.acks_in = Connection(acks_in, writable=False)
        self.spans_out.send_bytes(marshal.dumps(self.config))
        return True

    def _stop(self) -> None:
        """Close the pipes (the exporter process exports what it holds and exits) and wait for
        it."""
        for connection in (self.spans_out, self.acks_in):
            if connection is not None:
                connection.close()
        self.spans_out = self.acks_in = None
        process, self.process = self.process, None
        if process is None:
            return
        try:
            process.wait(self.export_seconds)
        except subprocess.TimeoutExpired:
            log.warning("the span exporter process did not stop; killed")
            process.kill()
            process.wait()


def _reset(ref: weakref.ref[Shipper]) -> None:
    shipper = ref()
    if shipper is not None:
        shipper._reset()


def _widen(fd: int) -> None:
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), _PIPE_BYTES)
    except (ImportError, OSError):  # not Linux, or above /proc/sys/fs/pipe-max-size
        return
