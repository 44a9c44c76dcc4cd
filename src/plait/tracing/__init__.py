"""OpenTelemetry traces of plait: API requests, run starts, event emits, run replays, step
attempts and the ``http`` action's requests (see ``docs/observability.md``, "Traces").

Tracing is optional (``pip install 'plait[otel]'``) and off until configured: by the operator
(``plait serve|worker --otel-endpoint``, ``PLAIT_OTEL_ENDPOINT``, or the standard
``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` and
``OTEL_TRACES_EXPORTER``; read by :func:`setup` when an engine is made), or from Python with
:func:`configure`, which takes the application's own ``TracerProvider``.

This module imports nothing of OpenTelemetry: :data:`ACTIVE` is ``None`` while tracing is off,
and every hook in plait is behind one check of it, so an untraced process pays nothing else.
The spans themselves are made by :class:`plait.tracing.otel.Tracing`, loaded on configuration.

A run keeps the W3C trace context it was started in (``runs.trace_context``: what
:func:`carrier` returns at its creation), so each of its replays, on whichever worker, and
the children it starts belong to one trace.
"""

from __future__ import annotations

import logging
import os
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from plait.errors import ConfigurationError

if TYPE_CHECKING:
    from plait.settings import Settings
    from plait.tracing.otel import Tracing

log = logging.getLogger(__name__)

ACTIVE: Tracing | None = None
"""The process's tracing; ``None`` while tracing is off (the one check every hook makes)."""

INSTALL_HINT = "install the OpenTelemetry packages: pip install 'plait[otel]'"
_EXPORTERS = ("otlp", "console")
_PROTOCOL = "http/protobuf"
_OFF: AbstractContextManager[None] = nullcontext()


def configure(tracer_provider: Any = None, *, payloads: bool = False) -> Tracing:
    """Trace this process's plait with ``tracer_provider`` (an OpenTelemetry
    ``TracerProvider``; default: the global one, ``opentelemetry.trace.get_tracer_provider()``).

    With ``payloads`` the spans also carry the values of run inputs, step inputs and outputs
    and event data (secrets a run read are redacted; each value is cut at 4 KiB). Replaces any
    earlier configuration; :func:`disable` turns tracing off again.
    """
    global ACTIVE
    try:
        from plait.tracing.otel import Tracing
    except ImportError as exc:
        raise ConfigurationError(f"plait tracing needs OpenTelemetry: {INSTALL_HINT}") from exc
    disable()  # a provider plait made from settings is flushed and shut down
    ACTIVE = Tracing(tracer_provider, payloads=payloads)
    return ACTIVE


def disable() -> None:
    """Turn tracing off (spans not yet exported are flushed first when plait made the
    provider)."""
    global ACTIVE
    active, ACTIVE = ACTIVE, None
    if active is not None and active.owned:
        active.shutdown()


def setup(settings: Settings) -> Tracing | None:
    """Configure tracing from the operator's settings, unless something configured it already:
    ``settings.otel_endpoint`` (``PLAIT_OTEL_ENDPOINT``), else the standard OpenTelemetry
    variables. Returns the tracing in force, or ``None`` (off).

    An endpoint given to plait without the OpenTelemetry packages installed is an error; the
    standard variables alone (perhaps meant for another program) only log a warning then.
    ``OTEL_SDK_DISABLED=true`` keeps tracing off; an OTLP protocol other than
    ``http/protobuf`` is refused.
    """
    global ACTIVE
    if ACTIVE is not None:
        return ACTIVE
    endpoint = settings.otel_endpoint
    exporter = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    standard = exporter in _EXPORTERS or bool(
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )
    disabled = os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
    if disabled or (not endpoint and (exporter == "none" or not standard)):
        return None
    problem = _protocol_problem() if endpoint or exporter != "console" else None
    if problem and not (endpoint or exporter == "otlp"):  # variables perhaps meant for others
        log.warning("OpenTelemetry variables are set but plait does not trace: %s", problem)
        return None
    if problem:
        raise ConfigurationError(problem)
    try:
        from plait.tracing.otel import Tracing, provider_from_env
    except ImportError as exc:
        if endpoint:
            raise ConfigurationError(
                f"otel_endpoint (PLAIT_OTEL_ENDPOINT) is set but {INSTALL_HINT}"
            ) from exc
        log.warning("OpenTelemetry variables are set but plait cannot trace: %s", INSTALL_HINT)
        return None
    provider = provider_from_env(endpoint or None, exporter or "otlp")
    ACTIVE = Tracing(provider, payloads=settings.otel_payloads, owned=True)
    return ACTIVE


def _protocol_problem() -> str | None:
    """What is wrong with an OTLP protocol other than OTLP/HTTP with protobuf, the one plait
    exports (``None``: nothing)."""
    protocol = (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or _PROTOCOL
    ).strip()
    if protocol == _PROTOCOL:
        return None
    return (
        f"plait exports traces over OTLP/HTTP ({_PROTOCOL!r}), not {protocol!r}: set "
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL (or OTEL_EXPORTER_OTLP_PROTOCOL) to "
        f"{_PROTOCOL} and point the endpoint at the collector's HTTP port (4318)"
    )


def flush(timeout_seconds: float = 10.0) -> bool:
    """Export the spans still buffered (a graceful stop calls it; a killed process loses
    them); whether they all were within ``timeout_seconds``."""
    active = ACTIVE
    return True if active is None else active.flush(timeout_seconds)


def carrier() -> str | None:
    """The current trace context as a run stores it (JSON of ``traceparent`` and
    ``tracestate``), or ``None`` when tracing is off or no span is current."""
    active = ACTIVE
    return None if active is None else active.carrier()


def run_start(workflow: str, org: str, trigger: str, run_id: str) -> AbstractContextManager[Any]:
    """A ``plait.run.start`` span around creating a run (inside it :func:`carrier` is the
    context the run keeps); a no-op while tracing is off."""
    active = ACTIVE
    return _OFF if active is None else active.run_start(workflow, org, trigger, run_id)


def emitting(org: str, type: str, source: str) -> AbstractContextManager[Any]:
    """A ``plait.event.emit`` span around storing an event (the runs it starts keep its
    context); a no-op while tracing is off."""
    active = ACTIVE
    return _OFF if active is None else active.emitting(org, type, source)


def emitted(
    span: Any, event_id: str, data: bytes, started: int | None = None, resumed: int | None = None
) -> None:
    """Note on an emit's span the event's id, the runs it started and resumed when known (a
    webhook delivery does not count them), and its data when payloads are enabled."""
    active = ACTIVE
    if active is not None:
        active.emitted(span, event_id, data, started, resumed)
