"""The run timeline's SVG, drawn on the server: rows per attempt, colours by what a step did,
escaped text, an axis that stays small whatever the span."""

from __future__ import annotations

from datetime import UTC, datetime

from plait.console.timeline import bars, draw
from plait.resources.runs import Step
from plait.resources.steps import Attempt


def _at(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def step(key: str, start: float, end: float | None, kind: str = "step",
         status: str = "completed", attempts: int = 1) -> Step:  # fmt: skip
    return Step(key=key, name=key, kind=kind, status=status, attempts=attempts,
                started_at=_at(start), finished_at=_at(end))  # fmt: skip


def test_waits_failures_and_open_steps_have_their_own_colours() -> None:
    steps = [step("a", 0, 1), step("nap", 1, 5, "sleep"), step("ask", 5, None, "task", "waiting"),
             step("b", 5, 6, status="failed"), step("c", 6, None, status="running"),
             step("now", 6, 6, "now")]  # fmt: skip
    rows = bars(steps, {}, now=9)
    assert [(r.label, r.css) for r in rows] == [
        ("a", "bar-ok"), ("nap", "bar-wait"), ("ask", "bar-wait"), ("b", "bar-bad"),
        ("c", "bar-run"),
    ]  # fmt: skip
    assert rows[2].end == 9  # a step still going runs to now


def test_each_attempt_of_a_retried_step_is_a_row() -> None:
    tried = [Attempt(step="pay", attempt=1, status="retrying", started_at=_at(0), next_at=_at(4)),
             Attempt(step="pay", attempt=2, status="completed", started_at=_at(4),
                     ended_at=_at(5))]  # fmt: skip
    rows = bars([step("pay", 0, 5, attempts=2)], {"pay": tried}, now=10)
    assert [(r.label, r.start, r.end, r.css) for r in rows] == [
        ("pay · 1", 0, 4, "bar-bad bar-retry"), ("pay · 2", 4, 5, "bar-ok"),
    ]  # fmt: skip
    assert "backoff" in rows[0].title


def test_text_is_escaped_and_the_axis_stays_small_over_years() -> None:
    svg = draw(bars([step("<script>x</script>", 0, 1), step("nap", 1, 3e8, "sleep")], {}, 0))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert svg.count("<text") < 20  # two labels and a handful of ticks
    assert draw([]) == ""
