"""A circuit breaker's state as every interface shows it (docs/flow-control.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from plait.resources.base import Resource, Stamp, required_stamp, stamp
from plait.store.limits import CircuitRecord

CircuitState = Literal["closed", "open", "half-open"]


class Circuit(Resource):
    """A circuit breaker of an organization: a named dependency its steps call."""

    name: str = Field(description="The circuit's name: its action's, or the name it was given.")
    state: CircuitState = Field(
        description="closed: calls go through; open: refused until halfOpenAt; half-open: one "
        "probe call at a time goes through (its success closes the circuit)."
    )
    failures: int = Field(description="Failures counted in the current window.")
    window_started_at: Stamp | None = None
    opened_at: Stamp | None = Field(None, description="When it last opened.")
    half_open_at: Stamp | None = Field(
        None, description="While open: when it lets a probe through."
    )
    probe: str | None = Field(None, description="Half-open: the run/step probing it.")
    opens: int = Field(description="How often it has opened.")
    last_error: str | None = Field(None, description="The last failure counted.")
    updated_at: Stamp

    @classmethod
    def of(cls, c: CircuitRecord, now: float) -> Circuit:
        # An open circuit past its half_open_at lets the next call through as its probe.
        due = c.state == "open" and c.half_open_at is not None and c.half_open_at <= now
        state: CircuitState = "half-open" if due else _state(c.state)
        return cls(name=c.name, state=state, failures=c.failures,
                   window_started_at=stamp(c.window_start), opened_at=stamp(c.opened_at),
                   half_open_at=stamp(c.half_open_at), probe=c.probe, opens=c.opens,
                   last_error=c.last_error, updated_at=required_stamp(c.updated_at))  # fmt: skip


def _state(value: str) -> CircuitState:
    if value == "open":
        return "open"
    return "half-open" if value == "half-open" else "closed"


class CircuitList(Resource):
    """Every circuit of an organization, by name."""

    items: list[Circuit]
