"""State machines that would loop forever: a floor on state timeouts (a validation error at the
timeout's JSON path naming machine_min_timeout_seconds), a transition budget per instance (the
run fails with LimitExceeded naming machine_max_transitions), and a warning for a machine that
cannot reach a terminal state."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from plait import Engine, WorkflowFailed
from plait.definitions.load import check_definition
from plait.definitions.validate import InvalidDefinition
from plait.settings import Settings
from plait.testing import VirtualClock

MakeEngine = Callable[..., Engine]


def ping_pong(timeout: Any = "1s") -> dict[str, Any]:
    """No terminal state: ``ping`` and ``pong`` time out into each other for ever."""
    return {
        "name": "ping-pong", "correlation": "data.id", "initial": "ping",
        "events": {"Game.started": "start"},
        "states": {
            "ping": {"on": {"start": "pong"}, "timeout": timeout, "timeoutTransition": "pong"},
            "pong": {"timeout": timeout, "timeoutTransition": "ping"},
        },
    }  # fmt: skip


def test_a_timeout_under_the_floor_is_a_validation_error_at_its_path() -> None:
    result = check_definition(ping_pong(timeout=1))  # milliseconds
    assert result.definition is None
    problems = {p.path: p.message for p in result.errors}
    assert set(problems) == {"$.states.ping.timeout", "$.states.pong.timeout"}
    message = problems["$.states.ping.timeout"]
    assert "timeout of state 'ping' is 0.001s; the limit is a minimum of 1s" in message
    assert "machine_min_timeout_seconds" in message
    assert "PLAIT_MACHINE_MIN_TIMEOUT_SECONDS" in message


def test_the_floor_is_a_setting() -> None:
    lenient = Settings(machine_min_timeout_seconds=0.001)
    assert check_definition(ping_pong(timeout=1), settings=lenient).valid
    strict = Settings(machine_min_timeout_seconds=5)
    assert not check_definition(ping_pong(timeout="2s"), settings=strict).valid


def test_a_machine_without_a_reachable_terminal_state_is_warned_about() -> None:
    result = check_definition(ping_pong())
    assert result.valid
    [warning] = [w for w in result.warnings if "terminal" in w.message]
    assert warning.path == "$.initial"
    assert "no terminal state can be reached from the initial state 'ping'" in warning.message
    assert "machine_max_transitions" in warning.message
    ending = ping_pong()
    ending["states"]["pong"] = {"on": {"start": "done"}}
    ending["states"]["done"] = {"terminal": True}
    assert not [w for w in check_definition(ending).warnings if "terminal" in w.message]


def validate(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``plait validate pp.json`` with only ``env`` of plait's settings in the environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
    return subprocess.run([sys.executable, "-m", "plait", "validate", "pp.json"], cwd=tmp_path,
                          env={**clean, **env}, capture_output=True, text=True,
                          timeout=60)  # fmt: skip


def test_plait_validate_applies_the_environment_s_floor(tmp_path: Path) -> None:
    (tmp_path / "pp.json").write_text(json.dumps(ping_pong(timeout="500ms")))
    refused = validate(tmp_path)
    assert refused.returncode != 0
    assert "$.states.ping.timeout" in refused.stdout + refused.stderr
    assert validate(tmp_path, PLAIT_MACHINE_MIN_TIMEOUT_SECONDS="0.5").returncode == 0


async def test_the_engine_s_settings_apply_when_a_machine_is_saved(
    make_engine: MakeEngine,
) -> None:
    async with make_engine() as engine:
        with pytest.raises(InvalidDefinition) as refused:
            await engine.workflows.create("acme", ping_pong(timeout="200ms"))
        assert refused.value.problems[0].path == "$.states.ping.timeout"
    async with make_engine(machine_min_timeout_seconds=0.1) as engine:
        await engine.workflows.create("acme", ping_pong(timeout="200ms"))


async def test_a_machine_that_loops_forever_fails_at_its_transition_budget(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock, machine_max_transitions=25)
    async with engine:
        created = await engine.workflows.create("acme", ping_pong())
        await engine.workflows.activate("acme", created.id)
        [run_id] = (await engine.events.emit("acme", "Game.started", {"id": "g-1"})).runs
        with pytest.raises(WorkflowFailed) as failed:
            await clock.run_skipping(engine.handle(run_id, org="acme").result(timeout=60))
        assert "machine_max_transitions" in str(failed.value)
        run = await engine.handle(run_id, org="acme").info()
        assert run.status == "failed" and run.error is not None
        assert run.error["type"].endswith("LimitExceeded")
        assert (
            f"transitions of state machine instance {run_id} is 26; the limit is 25"
            in (run.error["message"])
        )
        transitions = [s for s in run.steps if s.kind == "transition"]
        assert len(transitions) == 25
