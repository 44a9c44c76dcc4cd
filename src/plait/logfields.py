"""Structured logs: the run and step a record was written in, and a one-line JSON format.

The runtime binds the fields of the run it executes (:func:`bind_run`: ``run_id``,
``workflow``, ``org``) and of the step attempt it runs (:func:`bind_step`: ``step``,
``attempt``) to a context variable, so every record logged inside a run or a step, by plait or
by the step's own code or its libraries, in a thread or not, carries them without any change to
the logging calls. Binding is one ``ContextVar.set`` of a small dict per run and per attempt.

:class:`JsonFormatter` (``plait serve|worker --log-format json``) writes each record as one JSON
object on one line: ``time`` (ISO-8601 UTC with milliseconds), ``level``, ``logger``,
``message``, the bound fields (or those a call passes with ``extra=``), ``trace_id`` only when a
trace context is bound, and ``exception`` (``type``, ``message``, ``traceback``) when the record
has one. The credential and secret redaction of :mod:`plait.logs` applies to every field.
"""

from __future__ import annotations

import contextvars
import json
import logging
import time
from typing import Any

from plait.logs import redact
from plait.secrets import redacted

FORMATS = ("text", "json")
FIELDS = ("run_id", "workflow", "step", "attempt", "org", "trace_id")
"""The context fields a JSON line may carry, in this order; absent where they do not apply."""

_fields: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "plait_log_fields", default=None
)


def current() -> dict[str, Any]:
    """The fields bound in the current context (empty outside any run)."""
    return _fields.get() or {}


def bind(**fields: Any) -> contextvars.Token[dict[str, Any] | None]:
    """Add ``fields`` (those not ``None``) to the current context's; reset with the token."""
    bound = _fields.get()
    merged = dict(bound) if bound else {}
    for name, value in fields.items():
        if value is not None:
            merged[name] = value
    return _fields.set(merged)


def bind_run(run_id: str, workflow: str, org: str) -> contextvars.Token[dict[str, Any] | None]:
    """The fields of a run about to execute (a trace id bound around it is kept)."""
    return bind(run_id=run_id, workflow=workflow, org=org)


def bind_step(step: str, attempt: int) -> contextvars.Token[dict[str, Any] | None]:
    """The fields of a step attempt about to run, added to those of its run."""
    bound = _fields.get()
    merged = dict(bound) if bound else {}
    merged["step"] = step
    merged["attempt"] = attempt
    return _fields.set(merged)


def unbind(token: contextvars.Token[dict[str, Any] | None]) -> None:
    _fields.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (see the module's documentation)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _iso_time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        bound = current()
        for name in FIELDS:
            value = getattr(record, name, None)
            value = bound.get(name) if value is None else value
            if value is not None:
                line[name] = value
        if record.exc_info and record.exc_info[1] is not None:
            line["exception"] = self._exception(record)
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False, default=str)

    def _exception(self, record: logging.LogRecord) -> dict[str, str]:
        assert record.exc_info is not None
        kind, exc, _ = record.exc_info
        trace = record.exc_text or redacted(redact(self.formatException(record.exc_info)))
        return {
            "type": kind.__name__ if kind is not None else type(exc).__name__,
            "message": redacted(redact(str(exc))),
            "traceback": trace,
        }


def _iso_time(created: float) -> str:
    seconds = int(created)
    millis = int((created - seconds) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def use(log_format: str) -> None:
    """Write every record of the root logger's handlers in ``log_format`` (``text``: unchanged)."""
    if log_format not in FORMATS:
        raise ValueError(f"unknown log format {log_format!r}: expected one of {', '.join(FORMATS)}")
    if log_format == "json":
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())
