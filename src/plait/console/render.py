"""Pages of the console: one Jinja2 environment (autoescaped), the filters every template uses,
and :func:`page`, which renders a template with what every page needs (the session, the CSRF
token, the navigation).

Times are rendered as ``<time datetime="...Z" title="... UTC">`` in UTC; the page's script shows
them in the viewer's time zone and keeps UTC on hover. JSON is pretty-printed and cut at
``JSON_SHOWN`` characters (the page offers the whole value on demand).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import orjson
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from plait.console.session import Session

JSON_SHOWN = 4_000
"""Characters of a JSON value shown inline; the rest is loaded on request."""

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
"""The pages' Content-Security-Policy: scripts only from the console's own files (no inline
script anywhere), nothing from elsewhere, never framed."""
HEADERS = {"Cache-Control": "no-store", "Vary": "HX-Request", "Content-Security-Policy": CSP,
           "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
           "X-Frame-Options": "DENY"}  # fmt: skip

NAV = (
    ("overview", "/", "Overview", "viewer"),
    ("workflows", "/workflows", "Workflows", "viewer"),
    ("runs", "/runs", "Runs", "viewer"),
    ("events", "/events", "Events", "viewer"),
    ("inbox", "/inbox", "Inbox", "viewer"),
    ("schedules", "/schedules", "Schedules", "viewer"),
    ("machines", "/machines", "State machines", "viewer"),
    ("webhooks", "/webhooks", "Webhooks", "viewer"),
    ("keys", "/keys", "Keys", "admin"),
    ("secrets", "/secrets", "Secrets", "admin"),
    ("audit", "/audit", "Audit", "admin"),
)
"""The navigation: (section, path, label, the role it needs to be shown)."""


def iso(value: float | datetime | None) -> str:
    """``value`` (epoch seconds or a datetime) as ISO 8601 in UTC, to the second."""
    if value is None:
        return ""
    moment = value if isinstance(value, datetime) else datetime.fromtimestamp(value, UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def when(value: float | datetime | None) -> Markup:
    """A ``<time>`` element the page's script shows in the viewer's time zone."""
    if value is None:
        return Markup('<span class="muted">—</span>')
    stamp = iso(value)
    shown = stamp.replace("T", " ").replace("Z", " UTC")
    return Markup(f'<time datetime="{stamp}" title="{shown}">{shown}</time>')


def duration(seconds: float | None) -> str:
    """``seconds`` as a short human duration: 850 ms, 12.4 s, 3 min 5 s, 2 h 10 min, 3 d 4 h."""
    if seconds is None or math.isnan(seconds):
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def pretty(value: Any, limit: int = JSON_SHOWN) -> str:
    """``value`` as indented JSON, cut at ``limit`` characters (with a marker saying so)."""
    text = orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS,
                        default=str).decode()  # fmt: skip
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n… ({len(text) - limit:,} more characters)"


def json_size(value: Any) -> int:
    """Characters of ``value`` as indented JSON (to tell whether :func:`pretty` cut it)."""
    return len(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS,
                            default=str))  # fmt: skip


def datetime_input(value: str | None) -> str:
    """A UTC time from the address (``2026-12-07T15:24:54Z``) as a ``datetime-local`` field
    shows it (no zone: the field's label says UTC), so submitting the form again keeps it."""
    if not value:
        return ""
    text = value.strip()
    for zone in ("Z", "z", "+00:00"):
        text = text.removesuffix(zone)
    return text


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def status_badge(status: str | None) -> Markup:
    name = escape(status or "unknown")
    return Markup(f'<span class="badge status-{name}">{name}</span>')


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("plait.console", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, duration=duration, pretty=pretty, json_size=json_size,
                       iso=iso, percent=percent, status=status_badge,
                       datetime_input=datetime_input)  # fmt: skip
    env.globals.update(NAV=NAV, JSON_SHOWN=JSON_SHOWN)
    return env


TEMPLATES = _environment()


def page(
    request: Request,
    template: str,
    session: Session | None,
    *,
    section: str = "",
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` as a whole page (or, for an htmx request that asks for one part,
    the same template: templates extend ``base.html``, which renders only the ``main`` block
    when the request says ``HX-Request`` and not ``HX-Boosted``)."""
    partial = request.headers.get("hx-request") == "true" and "hx-boosted" not in request.headers
    html = TEMPLATES.get_template(template).render(
        request=request, session=session, section=section, partial=partial,
        path=request.url.path, query=request.url.query, **context,
    )  # fmt: skip
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def fragment(template: str, **context: Any) -> str:
    """A template rendered on its own (a part a page swaps in, an SSE message)."""
    return TEMPLATES.get_template(template).render(**context)
