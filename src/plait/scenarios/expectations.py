"""Checking what a scenario's run did against what the scenario expects.

Objects are matched as subsets (every key the expectation names must be there and match; other
keys are ignored), lists element by element with the same length, other values by equality
(``1 == 1.0``, but ``true`` is not ``1``). Each failed expectation is a
:class:`~plait.resources.scenario_reports.Failure` at its path in the scenario
(``expect.output.customer.plan``), saying what was expected and what was found.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from plait.resources.scenario_reports import Failure

if TYPE_CHECKING:
    from plait.resources.machines import MachineInstance
    from plait.resources.runs import Run
    from plait.resources.scenarios import (
        CallExpectation,
        Expectation,
        StepExpectation,
    )
    from plait.scenarios.mocks import Journal

_SAME = {"succeeded": "completed"}


@dataclass
class Observation:
    """What a scenario's run did: the run (none if its event started none), the action calls,
    the events emitted in the scenario, the state machine instance, and the virtual time."""

    run: Run | None
    journal: Journal
    events: list[dict[str, Any]] = field(default_factory=list)
    instance: MachineInstance | None = None
    virtual_seconds: float = 0.0


def show(value: Any) -> str:
    text = json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= 200 else text[:197] + "..."


def mismatches(expected: Any, actual: Any, path: str) -> list[Failure]:
    """Where ``actual`` does not match ``expected`` (a subset for objects)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [Failure(path=path, message=f"expected an object, got {show(actual)}")]
        found: list[Failure] = []
        for key, value in expected.items():
            if key not in actual:
                found.append(Failure(path=f"{path}.{key}",
                                     message=f"missing (expected {show(value)})"))  # fmt: skip
            else:
                found.extend(mismatches(value, actual[key], f"{path}.{key}"))
        return found
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [Failure(path=path, message=f"expected {show(expected)}, got {show(actual)}")]
        return [f for i, item in enumerate(expected) for f in
                mismatches(item, actual[i], f"{path}[{i}]")]  # fmt: skip
    if _equal(expected, actual):
        return []
    return [Failure(path=path, message=f"expected {show(expected)}, got {show(actual)}")]


def _equal(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    return bool(expected == actual)


def check(expect: Expectation, seen: Observation) -> list[Failure]:
    """Every failed expectation of ``expect`` in what was ``seen``."""
    failures = _check_start(expect, seen)
    if seen.run is None:
        return failures
    failures += _check_run(expect, seen.run, seen.virtual_seconds)
    for step, wanted in expect.steps.items():
        failures += _check_step(step, wanted, seen.run)
    for action, calls in expect.calls.items():
        failures += _check_calls(action, calls, seen.journal)
    failures += _check_events(expect, seen.events)
    if seen.instance is not None:
        failures += _check_machine(expect, seen.instance)
    return failures


def _check_start(expect: Expectation, seen: Observation) -> list[Failure]:
    started = seen.run is not None
    if expect.triggered is not None and expect.triggered != started:
        said = "started a run" if started else "started no run"
        return [Failure(path="expect.triggered", message=f"expected {expect.triggered}: the "
                        f"event {said}")]  # fmt: skip
    if not started and expect.triggered is None:
        return [Failure(path="event", message="the event started no run of the workflow "
                        "(its type or the trigger's filter did not match)")]  # fmt: skip
    return []


def _check_run(expect: Expectation, run: Run, seconds: float) -> list[Failure]:
    found: list[Failure] = []
    error = run.error or {}
    for name, wanted, actual in (("status", expect.status, run.status),
                                 ("outcome", expect.outcome, run.outcome)):  # fmt: skip
        if wanted is not None and wanted != actual:
            why = f" ({error.get('message')})" if error.get("message") else ""
            found.append(Failure(path=f"expect.{name}",
                                 message=f"expected {wanted}, got {actual}{why}"))  # fmt: skip
    if "output" in expect.model_fields_set:
        found += mismatches(expect.output, run.output, "expect.output")
    if expect.error is not None and expect.error not in str(error.get("message", "")):
        found.append(Failure(path="expect.error", message=f"expected an error containing "
                             f"{expect.error!r}, got {show(error.get('message'))}"))  # fmt: skip
    if expect.max_duration is not None and seconds > expect.max_duration:
        found.append(Failure(path="expect.maxDuration", message=f"took {seconds:g} virtual "
                             f"seconds, more than {expect.max_duration:g}"))  # fmt: skip
    return found


def _step_status(step: str, run: Run) -> tuple[str, Any]:
    """The step's status (completed, failed, skipped, not-run) and its record (if it ran)."""
    record = next((s for s in run.steps if s.key == step), None)
    skipped = next((s for s in run.skipped_steps if s.step == step), None)
    if skipped is not None:
        return "skipped", skipped
    if step in run.failed_steps:
        return "failed", record
    if step in run.completed_steps:
        return "completed", record
    if record is None:
        return "not-run", None
    return _SAME.get(record.status, record.status), record


def _check_step(step: str, wanted: StepExpectation, run: Run) -> list[Failure]:
    path = f"expect.steps.{step}"
    status, record = _step_status(step, run)
    found: list[Failure] = []
    if wanted.status is not None and _SAME.get(wanted.status, wanted.status) != status:
        detail = ""
        if status == "failed" and record is not None and record.error:
            detail = f" ({record.error.get('message')})"
        if status == "skipped":
            detail = f" ({record.reason})"
        said = f"expected {wanted.status}, got {status}{detail}"
        found.append(Failure(path=f"{path}.status", message=said))
    if status == "skipped" and wanted.reason is not None and wanted.reason not in record.reason:
        found.append(Failure(path=f"{path}.reason", message=f"expected a reason containing "
                             f"{wanted.reason!r}, got {record.reason!r}"))  # fmt: skip
    step_record = record if status in ("completed", "failed") else None
    return found + _check_step_record(path, wanted, step_record)


def _check_step_record(path: str, wanted: StepExpectation, record: Any) -> list[Failure]:
    found: list[Failure] = []
    asked = wanted.model_fields_set & {"attempts", "output", "error"}
    if record is None:
        return [Failure(path=f"{path}.{name}", message="the step did not run") for name in asked]
    if wanted.attempts is not None and record.attempts != wanted.attempts:
        said = f"expected {wanted.attempts}, got {record.attempts}"
        found.append(Failure(path=f"{path}.attempts", message=said))
    if "output" in asked:
        found += mismatches(wanted.output, record.output, f"{path}.output")
    message = (record.error or {}).get("message", "")
    if wanted.error is not None and wanted.error not in str(message):
        found.append(Failure(path=f"{path}.error", message=f"expected an error containing "
                             f"{wanted.error!r}, got {show(message or None)}"))  # fmt: skip
    return found


def _check_calls(action: str, wanted: CallExpectation, journal: Journal) -> list[Failure]:
    path = f"expect.calls.{action}"
    inputs = [call.input for call in journal.calls if call.action == action]
    found: list[Failure] = []
    if wanted.count is not None and wanted.count != len(inputs):
        found.append(Failure(path=f"{path}.count", message=f"expected {wanted.count} call(s), "
                             f"got {len(inputs)}"))  # fmt: skip
    for index, args in enumerate(wanted.args or []):
        if args is None:
            continue
        if index >= len(inputs):
            found.append(
                Failure(
                    path=f"{path}.args[{index}]",
                    message=f"there is no call "
                    f"#{index + 1} (the action was called {len(inputs)} time(s))",
                )
            )
            continue
        found += mismatches(args, inputs[index], f"{path}.args[{index}]")
    return found


def _check_events(expect: Expectation, events: list[dict[str, Any]]) -> list[Failure]:
    found: list[Failure] = []
    for index, wanted in enumerate(expect.events):
        typed = [e for e in events if e.get("type") == wanted.type]
        if typed and "data" not in wanted.model_fields_set:
            continue
        if any(not mismatches(wanted.data, e.get("data"), "") for e in typed):
            continue
        kinds = sorted({str(e.get("type")) for e in events})
        got = f"{len(typed)} of that type, none matching" if typed else f"types {kinds}"
        found.append(Failure(path=f"expect.events[{index}]", message=f"no {wanted.type} event "
                             f"with data {show(wanted.data)} was emitted ({got})"))  # fmt: skip
    return found


def _check_machine(expect: Expectation, instance: MachineInstance) -> list[Failure]:
    found: list[Failure] = []
    if expect.state is not None and expect.state != instance.state:
        found.append(Failure(path="expect.state",
                             message=f"expected {expect.state}, got {instance.state}"))  # fmt: skip
    if expect.visited is not None:
        visited = visited_states(instance)
        if visited != expect.visited:
            found.append(Failure(path="expect.visited", message=f"expected {expect.visited}, "
                                 f"got {visited}"))  # fmt: skip
    if "context" in expect.model_fields_set:
        found += mismatches(expect.context, instance.context, "expect.context")
    if expect.rejected is not None:
        rejected = [_event_names(r) for r in instance.rejected]
        same = len(rejected) == len(expect.rejected) and all(
            name in names for name, names in zip(expect.rejected, rejected, strict=True)
        )
        if not same:
            rejected_types = [names[0] for names in rejected]
            found.append(Failure(path="expect.rejected", message=f"expected {expect.rejected}, "
                                 f"got {rejected_types}"))  # fmt: skip
    return found


def visited_states(instance: MachineInstance) -> list[str]:
    """The states the instance entered, in order: the first transition's source, then each
    transition's target."""
    history = instance.history
    if not history:
        return [instance.state] if instance.state else []
    return [str(history[0].get("from"))] + [str(h.get("to")) for h in history]


def _event_names(rejected: Any) -> tuple[str, ...]:
    """A rejected event's names: its type on the bus (``Order.submitted``), and the machine's
    name for it (``submit``)."""
    if isinstance(rejected, dict):
        return tuple(str(rejected[k]) for k in ("type", "event") if rejected.get(k))
    return (str(rejected),)
