from __future__ import annotations

import pytest

from plait import NonDeterminismError
from plait.runtime.replay import Replay
from plait.store.records import StepRecord


def _rec(key: str, position: int, kind: str = "step") -> StepRecord:
    return StepRecord(key, position, key.split("#")[0], kind, "completed")


def test_keys_are_name_plus_occurrence_in_call_order() -> None:
    replay = Replay("run_1", [])
    keys = [replay.next(n, "step")[:2] for n in ("fetch", "send", "fetch", "fetch")]
    assert keys == [("fetch", 0), ("send", 1), ("fetch#2", 2), ("fetch#3", 3)]


def test_recorded_step_is_found_at_its_position() -> None:
    replay = Replay("run_1", [_rec("a", 0), _rec("b", 1)])
    assert replay.next("a", "step")[2] is not None
    assert replay.next("b", "step")[2] is not None
    assert replay.next("c", "step")[2] is None


def test_renamed_step_names_both_calls() -> None:
    replay = Replay("run_1", [_rec("a", 0), _rec("b", 1)])
    replay.next("a", "step")
    with pytest.raises(NonDeterminismError) as caught:
        replay.next("b-renamed", "step")
    assert caught.value.step == "b-renamed"
    assert "'b'" in str(caught.value) and "'b-renamed'" in str(caught.value)
    assert replay.error is caught.value


def test_reordered_steps_fail() -> None:
    replay = Replay("run_1", [_rec("a", 0), _rec("b", 1)])
    with pytest.raises(NonDeterminismError, match="'b'"):
        replay.next("b", "step")


def test_a_sleep_replaced_by_a_step_fails() -> None:
    replay = Replay("run_1", [_rec("pause", 0, kind="sleep")])
    with pytest.raises(NonDeterminismError, match="sleep 'pause'"):
        replay.next("pause", "step")


def test_recorded_steps_the_code_no_longer_reaches_fail_at_completion() -> None:
    replay = Replay("run_1", [_rec("a", 0), _rec("b", 1)])
    replay.next("a", "step")
    with pytest.raises(NonDeterminismError, match="'b'"):
        replay.check_complete()
