"""The business metric verbs on every backend: a measurement is fenced and written with its
history record; aggregates and percentiles agree across dialects; SQLite refuses a window
holding more values than ``stats_max_rows``."""

from __future__ import annotations

import math

import pytest

from plait.errors import LeaseLost, LimitExceeded
from plait.store.base import Store
from plait.store.records import NewRun, StepRecord
from tests.store.test_store_contract import T0


def _record(key: str, position: int, value: float) -> StepRecord:
    body = f'{{"name":"m","value":{value},"labels":{{}}}}'.encode()
    return StepRecord(key, position, key, "metric", "completed", 1, body, None, T0, T0)


async def _claimed(store: Store, run_id: str) -> int:
    await store.create_run(NewRun(run_id, "wf", b"[]", T0))
    [claim] = await store.claim_runs("w1", ["wf"], 1, T0, T0 + 30)
    return claim.fence


async def _measure(
    store: Store, run_id: str, fence: int, n: int, value: float, labels: str
) -> None:
    await store.record_metric(run_id, fence, _record(f"metric:m#{n}", n, value), "default", "wf",
                              "m", value, labels, T0 + n)  # fmt: skip


async def test_a_measurement_is_fenced_and_kept_with_its_record(store: Store) -> None:
    fence = await _claimed(store, "run_a")
    await _measure(store, "run_a", fence, 1, 5.0, '{"plan":"pro"}')
    with pytest.raises(LeaseLost):
        await _measure(store, "run_a", fence - 1, 2, 7.0, "{}")
    found = await store.run_measurements("run_a")
    assert [(m.key, m.value, m.labels) for m in found] == [("metric:m#1", 5.0, {"plan": "pro"})]
    run = await store.get_run("run_a")
    assert run is not None
    assert [s.key for s in run.steps] == ["metric:m#1"]  # the fenced-out write stored nothing


async def test_aggregates_and_percentiles_agree_on_every_backend(store: Store) -> None:
    fence = await _claimed(store, "run_b")
    for n in range(1, 11):  # 1..10, every third labelled "gold"
        await _measure(
            store, "run_b", fence, n, float(n), '{"tier":"gold"}' if n % 3 == 0 else "{}"
        )
    [all_of_them] = await store.metric_aggregates("default", "wf", T0, T0 + 100, max_rows=100)
    assert (all_of_them.count, all_of_them.sum, all_of_them.mean) == (10, 55.0, 5.5)
    assert (all_of_them.p50, all_of_them.min, all_of_them.max) == (5.5, 1.0, 10.0)
    assert all_of_them.p95 == pytest.approx(9.55)  # 9 + 0.55 * (10 - 9)
    grouped = await store.metric_aggregates("default", "wf", T0, T0 + 100, by_labels=True,
                                            max_rows=100)  # fmt: skip
    gold = [a for a in grouped if a.labels == {"tier": "gold"}]
    assert [(a.count, a.sum, a.p50) for a in gold] == [(3, 18.0, 6.0)]  # 3, 6, 9
    later = await store.metric_aggregates("default", "wf", T0 + 6, T0 + 100, max_rows=100)
    assert [(a.count, a.sum) for a in later] == [(5, 40.0)]  # 6..10: the window's values only


async def test_sums_past_the_largest_float_are_infinite_on_every_backend(store: Store) -> None:
    fence = await _claimed(store, "run_c")
    for n in range(1, 3):  # legal values whose sum a float cannot hold
        await _measure(store, "run_c", fence, n, 1e308, "{}")
    [huge] = await store.metric_aggregates("default", "wf", T0, T0 + 100, max_rows=100)
    assert (huge.count, huge.sum, huge.min, huge.max) == (2, math.inf, 1e308, 1e308)


async def test_sqlite_refuses_a_window_over_its_row_limit(store: Store, store_url: str) -> None:
    fence = await _claimed(store, "run_c")
    for n in range(1, 4):
        await _measure(store, "run_c", fence, n, float(n), "{}")
    if not store_url.startswith("sqlite"):
        found = await store.metric_aggregates("default", "wf", T0, T0 + 100, max_rows=2)
        assert found[0].count == 3  # PostgreSQL aggregates in SQL, whatever the count
        return
    with pytest.raises(LimitExceeded) as refused:
        await store.metric_aggregates("default", "wf", T0, T0 + 100, max_rows=2)
    assert refused.value.setting == "stats_max_rows"
