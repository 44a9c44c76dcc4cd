"""Small charts drawn on the server as inline SVG: bars of counts, stacked by outcome, with an
accessible name (``role="img"``, ``aria-label`` and ``<title>``) and a ``<title>`` on each bar
(its tooltip). Every text is escaped; sizes are in the SVG's own units and the chart scales to
its container (``class="chart"``), so one drawing serves a wide screen and a phone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 600
HEIGHT = 120
AXIS = 16
"""Height kept under the bars for the axis labels."""


@dataclass(frozen=True, slots=True)
class Series:
    """One layer of a stacked bar chart: its name, its CSS class (``bar-ok``, ``bar-bad``) and
    a value per bar."""

    name: str
    css: str
    values: Sequence[int]


def bars(
    label: str,
    series: Sequence[Series],
    ticks: Sequence[str],
    *,
    every: int = 10,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Markup:
    """A bar chart of the ``series`` stacked (the first at the bottom), a bar per entry of
    ``ticks`` (each bar's name in its tooltip); a tick label under every ``every``-th bar.
    ``label`` names the chart for screen readers."""
    count = len(ticks)
    if any(len(s.values) != count for s in series):
        raise ValueError("every series needs a value per tick")
    totals = [sum(s.values[i] for s in series) for i in range(count)]
    top = max([*totals, 1])
    plot = height - AXIS
    step = width / max(count, 1)
    gap = min(2.0, step * 0.2)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" preserveAspectRatio="none">',
        f"<title>{escape(label)}</title>",
        f'<line class="axis" x1="0" y1="{plot}" x2="{width}" y2="{plot}"/>',
    ]
    for i, tick in enumerate(ticks):
        x = i * step
        base = float(plot)
        for s in series:
            value = s.values[i]
            if value <= 0:
                continue
            h = value / top * (plot - 4)
            base -= h
            parts.append(
                f'<rect class="{escape(s.css)}" x="{x + gap / 2:.1f}" y="{base:.1f}" '
                f'width="{step - gap:.1f}" height="{h:.1f}"><title>{escape(tick)}: '
                f"{value} {escape(s.name)}</title></rect>"
            )
        if every and i % every == 0:
            parts.append(f'<text x="{x:.1f}" y="{height - 3}">{escape(tick)}</text>')
    parts.append(f'<text x="{width}" y="11" text-anchor="end">max {max([*totals, 0])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def spark(label: str, values: Sequence[int], *, css: str = "bar-bad", width: int = 96,
          height: int = 22) -> Markup:  # fmt: skip
    """A tiny bar chart of ``values`` (no axis), for a table cell; empty bars for zeros."""
    top = max([*values, 1])
    step = width / max(len(values), 1)
    parts = [
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
    ]
    for i, value in enumerate(values):
        if value <= 0:
            continue
        h = max(value / top * (height - 2), 1.5)
        parts.append(
            f'<rect class="{escape(css)}" x="{i * step:.1f}" y="{height - h:.1f}" '
            f'width="{max(step - 1, 1):.1f}" height="{h:.1f}"/>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
