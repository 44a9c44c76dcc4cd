"""The OpenTelemetry context as plait's spans read and set it, in the fewest steps.

``opentelemetry.context`` keeps the current context in one ``ContextVar`` (its default runtime
context); the API reaches it through four calls to read the current span and five to make a
span current, a good part of what a span costs plait. When that default is in force these
functions use the variable itself, with the same effect; another runtime context
(``OTEL_PYTHON_CONTEXT``) goes through the API.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar, Token

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation import _SPAN_KEY

log = logging.getLogger(__name__)


def _variable() -> ContextVar[Context] | None:
    """The ``ContextVar`` of OpenTelemetry's default runtime context, if that is in force."""
    from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext

    runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)
    variable = getattr(runtime, "_current_context", None)
    if type(runtime) is ContextVarsRuntimeContext and isinstance(variable, ContextVar):
        return variable
    return None


CURRENT = _variable()
"""The variable read and set directly (``None``: another runtime context, used through the
API)."""
OWN_SPANS: set[type] = set()
"""Span types that are certainly spans (plait's own), found without ``isinstance``'s check
of the abstract ``Span`` class."""


def current_span(context: Context | None = None) -> trace.Span:
    """The span current in ``context`` (default: the current context), as
    ``trace.get_current_span``."""
    if context is None:
        if CURRENT is None:
            return trace.get_current_span()
        context = CURRENT.get()
    span = context.get(_SPAN_KEY)
    if type(span) in OWN_SPANS or isinstance(span, trace.Span):
        return span  # type: ignore[return-value]  # a Span either way
    return trace.INVALID_SPAN


def make_current(span: trace.Span, base: Context | None = None) -> Token[Context]:
    """Make ``span`` current, in ``base`` (default: the current context), as
    ``context.attach(trace.set_span_in_context(span, base))``."""
    if CURRENT is None:
        return otel_context.attach(trace.set_span_in_context(span, base))
    return CURRENT.set(Context({**(CURRENT.get() if base is None else base), _SPAN_KEY: span}))


def enter(context: Context) -> Token[Context]:
    """Make ``context`` current, as ``context.attach``."""
    return otel_context.attach(context) if CURRENT is None else CURRENT.set(context)


def leave(token: Token[Context]) -> None:
    """Restore the context ``token`` replaced, as ``context.detach`` (which logs, rather than
    raises, a token of another context)."""
    if CURRENT is None:
        otel_context.detach(token)
        return
    try:
        CURRENT.reset(token)
    except Exception:
        log.exception("Failed to detach context")
