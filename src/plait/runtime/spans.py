"""The spans of a run's replays and of its step attempts (``plait.tracing``), with the
payloads they may carry redacted of the run's secrets.

Called only while tracing is on (``plait.tracing.ACTIVE`` is not ``None``): the executor and
the step runner check that first, so an untraced run makes no call here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plait import values
from plait.secrets import redacted

if TYPE_CHECKING:
    from plait.runtime.executor import Outcome
    from plait.store.records import ClaimedRun
    from plait.tracing.otel import Opened, Tracing


def open_replay(traced: Tracing, run: ClaimedRun, workflow: str) -> Opened:
    """The ``plait.run.replay`` span of this replay of ``run``, a child of the trace
    context the run stored (claimed with it)."""
    return traced.replay(run.id, workflow, run.org, run.fence, run.trace_context)


def end_replay(traced: Tracing, opened: Opened, ended: Outcome | None) -> None:
    """End the replay's span: ``plait.outcome`` is how the run ended (``waiting`` when it
    suspended, ``abandoned`` when it lost its lease or the database), ERROR when it failed."""
    status = None if ended is None else ended.status
    if ended is not None and status == "failed":
        info = values.decode(ended.error) if ended.error else {}
        info = info if isinstance(info, dict) else {}
        opened.fail(str(info.get("type", "error")), str(info.get("message", "")))
    elif ended is not None and traced.payloads and ended.output is not None:
        opened.span.set_attribute("plait.output", _shown_json(ended.output))
    outcome = "abandoned" if ended is None else ended.outcome or ended.status
    opened.end(outcome, ok=status in ("succeeded", "waiting"))


def open_attempt(
    traced: Tracing, run_id: str, workflow: str, org: str, step: str, key: str, attempt: int,
    args: tuple[Any, ...], kwargs: dict[str, Any],
) -> Opened:  # fmt: skip
    """The ``plait.step.attempt`` span of one attempt about to run (never of a replayed step)."""
    opened = traced.attempt(workflow, run_id, org, step, key, attempt)
    if traced.payloads and (args or kwargs):
        shown = list(args) if not kwargs else {"args": list(args), "kwargs": kwargs}
        opened.span.set_attribute("plait.input", _shown(shown))
    return opened


def note_input(traced: Tracing, value: Any) -> None:
    """With payloads enabled, ``value`` as the current attempt's ``plait.input`` (a
    definition's step, whose input is rendered as the attempt runs)."""
    if traced.payloads:
        traced.annotate("plait.input", _shown(value))


def end_attempt(traced: Tracing, opened: Opened, result: Any, error: BaseException | None) -> None:
    """End an attempt's span: OK with its result, or ERROR with its exception (redacted)."""
    if error is None:
        if traced.payloads:
            opened.span.set_attribute("plait.output", _shown(result))
        opened.end("succeeded", ok=True)
        return
    if isinstance(error, Exception):
        opened.fail(type(error).__name__, redacted(str(error)))
        opened.end("failed")
    else:  # cancelled, or the run unwound: the attempt did not end by itself
        opened.end("interrupted")


def _shown(value: Any) -> str:
    from plait.tracing.otel import payload

    try:
        text = values.encode(value).decode()
    except (TypeError, ValueError):
        text = repr(value)
    return payload(redacted(text))


def _shown_json(data: bytes) -> str:
    from plait.tracing.otel import payload

    return payload(redacted(data.decode()))
