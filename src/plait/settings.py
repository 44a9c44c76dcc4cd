"""Engine configuration: keyword arguments, then ``PLAIT_*`` environment variables, defaults."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import unquote, urlsplit

from plait.errors import ConfigurationError

DEFAULT_DATABASE_URL = "sqlite:///./plait.db"


@dataclass(frozen=True)
class Settings:
    """Every tunable of an engine. Each field ``x`` has the environment twin ``PLAIT_X``.

    Attributes:
        database_url: ``sqlite:///path.db`` (the default is ``./plait.db``) or
            ``postgresql://user@host/db``.
        concurrency: most runs one worker executes at a time.
        lease_seconds: how long a claimed run stays leased without a heartbeat.
        heartbeat_seconds: how often a worker renews its leases.
        poll_seconds: longest idle wait before a worker looks for runnable runs again.
        inline_wait_seconds: sleeps and retry delays up to this long wait in memory; longer ones
            suspend the run (it becomes a row with a wake time).
        shutdown_seconds: how long a graceful stop waits for running runs before releasing them.
        step_threads: size of the thread pool that runs synchronous step functions.
        sqlite_synchronous: SQLite ``PRAGMA synchronous``: ``NORMAL`` survives process crashes,
            ``FULL`` also survives power loss at the cost of an fsync per commit.
        database_readers: PostgreSQL connections (threads) that serve reads, per process; one
            more connection writes and one listens for wake-ups.
        code_workers: sandbox processes that run ``code`` actions.
        code_timeout_seconds: wall-clock limit of one code action call.
        code_cpu_seconds: CPU-time limit of one code action call.
        code_memory_mb: address-space limit of each sandbox process.
        code_org_workers: most sandbox processes one organization's code actions hold at once;
            ``0`` (the default) means all but one of ``code_workers`` (at least one), so another
            organization's code action always finds one free.
        code_max_output_bytes: largest encoded result one code action call may return.

        The limits below bound what one document or request can make plait do; each default is
        far above what a real workload needs, and ``docs/limits.md`` lists them with their
        errors.

        max_document_bytes: largest definition document (JSON or YAML text, or its JSON form).
        max_request_bytes: largest REST request body (a 413 above it); room for a definition
            of ``max_document_bytes`` written as JSON with escapes.
        max_steps: most steps (nodes, states, parallel children included) in one definition.
        max_name_length: longest name: workflow, step id, event type, secret, webhook, action.
        max_yaml_aliases: most YAML alias references (``*name``) in one document.
        max_yaml_nodes: most YAML nodes (scalars, lists, mappings, aliases) in one document:
            YAML is built in Python, about 10 µs a node.
        max_document_depth: deepest nesting of objects and lists in one definition document.
        max_expression_cost: most evaluation work one expression may do (see
            ``docs/expressions.md``): decided when it is saved where the sizes are literal,
            checked against the real sizes before it runs otherwise.
        max_run_tree_depth: deepest nesting of child workflow runs under one root run.
        max_run_tree_runs: most runs in one run tree (a root and all its descendants).
        machine_min_timeout_seconds: shortest state timeout a state machine may declare.
        machine_max_transitions: most transitions one state-machine instance may make.
        webhook_replay_seconds: how long an accepted webhook delivery's signed content is
            remembered (in the database), so that a replay of it, whatever its unsigned
            headers, starts nothing.
        idempotency_seconds: how long an ``Idempotency-Key`` (``idempotency_key=``) of a
            trigger, an emit or a run operation is remembered: within it a repeat answers the
            first request's result; after it the key may name another request.
        stream_max_per_key: most live streams (``.../stream``) one API key may hold open in
            one server process; one more is refused with 429.
        stream_queue: most changes buffered for one stream whose client reads slowly; past
            it the stream drops them and reads again from the change feed, where it left off.
        stream_poll_seconds: how often a process with open streams reads the change feed
            for changes made by other processes (PostgreSQL also wakes it by notification).
        stream_heartbeat_seconds: the longest a stream stays silent: a comment line then
            keeps proxies from closing it.
        stream_retention_seconds: how long the change feed keeps changes (workers delete
            older ones): a stream resumed from an older ``Last-Event-ID`` misses them.
        max_secret_bytes: largest value of one secret, in bytes of UTF-8.
        max_metric_labels: most labels one business metric measurement may carry.
        stats_max_window_days: longest window, in days, of a workflow's stats and business
            metric aggregates (``?window=``).
        stats_max_rows: most values (runs, or measurements of one workflow) one stats or
            metrics request reads to compute its percentiles; a window holding more is
            refused with this limit named (narrow the window).
        audit_retention_days: how long audit entries are kept (the worker deletes older ones);
            ``0`` or ``forever`` keeps every entry.
        run_retention_days: how long ended runs (succeeded, failed, cancelled) are kept by
            default: the worker deletes older ones with their steps, unless an organization's or
            a workflow's retention policy says otherwise (``docs/retention.md``); ``0`` or
            ``forever`` keeps every run.
        event_retention_days: how long stored events are kept; ``0`` or ``forever``: all.
        task_retention_days: how long finished (completed, expired, cancelled) human tasks are
            kept after they ended; ``0`` or ``forever``: all.
        archive: a directory: runs deleted by the retention or a purge are first written there
            as gzip-compressed JSON lines (``plait runs archive read``); empty: not archived.

        smtp_url: the SMTP server of the ``email`` action and of schedule notifications:
            ``smtp://user:password@host:port`` (``?starttls=true`` requires STARTTLS),
            ``smtps://...`` for implicit TLS; empty (the default): no mail, notifications are
            emitted as ``Schedule.notification`` events. Never logged or shown.
        smtp_from: the sender address of that mail; defaults to the URL's user name when it
            is an address.

        otel_endpoint: the OTLP/HTTP collector to send traces to (``http://collector:4318``;
            ``/v1/traces`` is added), which turns tracing on (``pip install 'plait[otel]'``);
            empty (the default): the standard ``OTEL_EXPORTER_OTLP_*`` variables decide.
        otel_payloads: put run inputs, step inputs and outputs and event data on spans
            (``true``/``false``; off by default: payloads stay out of traces).
        console_secret: the key that signs the web console's session cookies; every server of
            one deployment needs the same (default: derived from ``PLAIT_SECRET_KEY`` when that
            is set, else random per process, so sessions end when the server restarts).
        console_session_hours: how long a console sign-in lasts.
        mcp_read_only: ``plait serve``'s MCP endpoint (``/mcp``) offers only the tools that
            change nothing, whatever the key's role (as ``plait mcp --read-only``).
        run_search_scan: most runs one read of a runs page examines for the filters no index
            serves (outcome, trigger, an input field): a page that finds fewer matches stops
            there, short, with a cursor to read on.
        bulk_max_runs: most runs one bulk cancel, retry or resume may take (the ids given, or
            the runs matching its filter).
    """

    database_url: str = DEFAULT_DATABASE_URL
    concurrency: int = 500
    lease_seconds: float = 30.0
    heartbeat_seconds: float = 10.0
    poll_seconds: float = 1.0
    inline_wait_seconds: float = 5.0
    shutdown_seconds: float = 10.0
    step_threads: int = 32
    sqlite_synchronous: str = "NORMAL"
    database_readers: int = 4
    code_workers: int = 2
    code_timeout_seconds: float = 5.0
    code_cpu_seconds: int = 5
    code_memory_mb: int = 256
    code_org_workers: int = 0
    code_max_output_bytes: int = 1_000_000
    max_document_bytes: int = 4_000_000
    max_request_bytes: int = 8_000_000
    max_steps: int = 2_000
    max_name_length: int = 200
    max_yaml_aliases: int = 100
    max_yaml_nodes: int = 250_000
    max_document_depth: int = 100
    max_expression_cost: int = 1_000_000
    max_run_tree_depth: int = 32
    max_run_tree_runs: int = 10_000
    machine_min_timeout_seconds: float = 1.0
    machine_max_transitions: int = 10_000
    webhook_replay_seconds: float = 86_400.0
    idempotency_seconds: float = 86_400.0
    stream_max_per_key: int = 20
    stream_queue: int = 1_000
    stream_poll_seconds: float = 0.25
    stream_heartbeat_seconds: float = 15.0
    stream_retention_seconds: float = 86_400.0
    max_secret_bytes: int = 65_536
    max_metric_labels: int = 8
    stats_max_window_days: float = 90.0
    stats_max_rows: int = 100_000
    audit_retention_days: float = 365.0
    run_retention_days: float = 30.0
    event_retention_days: float = 30.0
    task_retention_days: float = 90.0
    archive: str = ""
    smtp_url: str = field(default="", repr=False)
    smtp_from: str = ""
    otel_endpoint: str = ""
    otel_payloads: bool = False
    console_secret: str = field(default="", repr=False)
    console_session_hours: float = 12.0
    mcp_read_only: bool = False
    run_search_scan: int = 5_000
    bulk_max_runs: int = 1_000

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Settings from ``overrides``, then the environment, then the defaults."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(overrides) - set(known))
        if unknown:
            raise ConfigurationError(f"unknown engine setting(s): {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for name, spec in known.items():
            if overrides.get(name) is not None:
                values[name] = overrides[name]
                continue
            raw = os.environ.get(f"PLAIT_{name.upper()}")
            if raw is not None and raw != "":
                values[name] = _parse(name, raw, spec.type)
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.concurrency < 1:
            raise ConfigurationError("concurrency must be at least 1")
        if self.heartbeat_seconds >= self.lease_seconds:
            raise ConfigurationError("heartbeat_seconds must be shorter than lease_seconds")
        if self.code_org_workers < 0:
            raise ConfigurationError("code_org_workers must be 0 (all workers but one) or more")
        for name in _POSITIVE_LIMITS:
            if getattr(self, name) <= 0:
                raise ConfigurationError(f"{name} must be positive (PLAIT_{name.upper()})")
        if self.sqlite_synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ConfigurationError("sqlite_synchronous must be OFF, NORMAL, FULL or EXTRA")
        for name in ("audit_retention_days", *_RETENTIONS):
            days = getattr(self, name)
            if not math.isfinite(days) or days < 0:  # NaN would compare true and delete all
                raise ConfigurationError(
                    f"{name} must be a finite number of days, 0 (or forever: keep everything) "
                    f"or more, not {days!r} (PLAIT_{name.upper()})"
                )
        if self.smtp_url:
            _check_smtp(self.smtp_url, self.smtp_from)


_POSITIVE_LIMITS = (
    "code_max_output_bytes",
    "max_document_bytes",
    "max_request_bytes",
    "max_steps",
    "max_name_length",
    "max_yaml_aliases",
    "max_yaml_nodes",
    "max_document_depth",
    "max_expression_cost",
    "max_run_tree_depth",
    "max_run_tree_runs",
    "machine_min_timeout_seconds",
    "machine_max_transitions",
    "webhook_replay_seconds",
    "idempotency_seconds",
    "stream_max_per_key",
    "stream_queue",
    "stream_poll_seconds",
    "stream_heartbeat_seconds",
    "stream_retention_seconds",
    "max_secret_bytes",
    "max_metric_labels",
    "stats_max_window_days",
    "stats_max_rows",
    "console_session_hours",
    "run_search_scan",
    "bulk_max_runs",
)


_RETENTIONS = ("run_retention_days", "event_retention_days", "task_retention_days")


def _check_smtp(url: str, sender: str) -> None:
    """Refuse an SMTP URL the ``email`` action could not use (the URL is never echoed: it may
    hold a password)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ConfigurationError(f"smtp_url is not a valid URL (PLAIT_SMTP_URL): {exc}") from exc
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigurationError(
            "smtp_url must be smtp://[user:password@]host[:port] or smtps://... (PLAIT_SMTP_URL)"
        )
    if not sender and "@" not in unquote(parts.username or ""):
        raise ConfigurationError(
            "smtp_from must be set when smtp_url's user name is not an address (PLAIT_SMTP_FROM)"
        )


def _parse(name: str, raw: str, kind: Any) -> Any:
    if name in ("audit_retention_days", *_RETENTIONS) and raw.strip().lower() == "forever":
        return 0.0
    if kind in ("bool", bool):
        return _flag(name, raw)
    try:
        if kind in ("int", int):
            return int(raw)
        if kind in ("float", float):
            return float(raw)
    except ValueError as exc:
        raise ConfigurationError(f"PLAIT_{name.upper()}={raw!r} is not a number") from exc
    return raw


def _flag(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"PLAIT_{name.upper()}={raw!r} is not true or false")
