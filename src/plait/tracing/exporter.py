"""The exporter process of plait's own tracing pipeline (:mod:`plait.tracing.recorder`):
``python -m plait.tracing.exporter SPANS_FD ACKS_FD``, started by the process whose spans it
exports, never by hand.

It reads from the ``SPANS_FD`` pipe a configuration (the OTLP endpoint, the resource, the
instrumentation scope), then batches of ended spans (``marshal`` of each span's fields); makes
the SDK's ``ReadableSpan`` of each, within the span limits (``OTEL_SPAN_*_LIMIT``,
``OTEL_ATTRIBUTE_*_LIMIT``); and exports them with the SDK's ``OTLPSpanExporter``, configured by
the same ``OTEL_EXPORTER_OTLP_*`` variables as its parent (headers, compression, timeout,
certificates), in requests of at most ``OTEL_BSP_MAX_EXPORT_BATCH_SIZE`` spans (as its parent
read it). A batch that
asks for it is acknowledged on ``ACKS_FD`` once exported (a flush waits for that).

It ignores SIGINT and SIGTERM, which a terminal or a service manager may send to the whole
process group: it exports what its parent sends until the parent closes the pipe, by stopping
or by dying, then exits.
"""

from __future__ import annotations

import logging
import marshal
import signal
import sys
from multiprocessing.connection import Connection
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanLimits
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

log = logging.getLogger("plait.tracing.exporter")


class Spans:
    """Makes ``ReadableSpan`` of the tuples :class:`plait.tracing.recorder.RecordedSpan`
    sends."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.resource = Resource(config["resource"], config["schema_url"] or None)
        self.scope = InstrumentationScope(config["scope"])
        self.limits = SpanLimits()

    def readable(self, item: bytes) -> ReadableSpan:
        """The span of one item of a batch (``plait.tracing.recorder.packed``)."""
        (name, trace_id, span_id, parent_id, remote, flags, state, kind, start, end,
         attributes, events, status, links) = marshal.loads(item)  # fmt: skip
        limits = self.limits
        trace_state = TraceState.from_header([state]) if state else None
        context = SpanContext(trace_id, span_id, False, TraceFlags(flags), trace_state)
        parent = SpanContext(trace_id, parent_id, remote, TraceFlags(flags)) if parent_id else None
        return ReadableSpan(
            name, context, parent, self.resource,
            BoundedAttributes(limits.max_span_attributes, attributes, immutable=True,
                              max_value_len=limits.max_span_attribute_length),
            self._events(events), self._links(links), SpanKind(kind),
            status=Status(StatusCode(status[0]), status[1]) if status else Status(),
            start_time=start, end_time=end, instrumentation_scope=self.scope,
        )  # fmt: skip

    def _events(self, events: list[tuple[str, int, dict[str, Any]]] | None) -> BoundedList[Event]:
        kept: BoundedList[Event] = BoundedList(self.limits.max_events)
        for name, timestamp, attributes in events or ():
            kept.append(Event(name, self._attributes(self.limits.max_event_attributes,
                                                     attributes), timestamp))  # fmt: skip
        return kept

    def _links(self, links: list[tuple[Any, ...]] | None) -> BoundedList[Link]:
        kept: BoundedList[Link] = BoundedList(self.limits.max_links)
        for trace_id, span_id, remote, flags, state, attributes in links or ():
            trace_state = TraceState.from_header([state]) if state else None
            context = SpanContext(trace_id, span_id, remote, TraceFlags(flags), trace_state)
            kept.append(Link(context, self._attributes(self.limits.max_link_attributes,
                                                       attributes)))  # fmt: skip
        return kept

    def _attributes(self, most: int | None, attributes: dict[str, Any]) -> BoundedAttributes:
        return BoundedAttributes(most, attributes, immutable=True,
                                 max_value_len=self.limits.max_attribute_length)  # fmt: skip


def serve(spans_in: Connection, acks_out: Connection, exporter: SpanExporter,
          spans: Spans, batch: int) -> None:  # fmt: skip
    """Export each batch read from ``spans_in`` until it is closed."""
    while True:
        try:
            message = spans_in.recv_bytes()
        except (EOFError, OSError):
            return
        try:
            sequence, items, reply = marshal.loads(message)
            made = [spans.readable(item) for item in items]
            for start in range(0, len(made), batch):
                exporter.export(made[start : start + batch])
        except Exception:  # a bad batch loses its spans, not the spans to come
            log.exception("a batch of spans could not be exported")
            sequence, reply = None, False
        if reply:
            acks_out.send_bytes(int(sequence).to_bytes(8, "big"))


def main(argv: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s plait span exporter: %(message)s"
    )
    spans_in = Connection(int(argv[1]), writable=False)
    acks_out = Connection(int(argv[2]), readable=False)
    try:
        config = marshal.loads(spans_in.recv_bytes())
    except EOFError:
        return
    exporter = OTLPSpanExporter(endpoint=config["endpoint"])
    try:
        serve(spans_in, acks_out, exporter, Spans(config), config["batch"])
    finally:
        exporter.shutdown()  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    main(sys.argv)
