"""Store contract of human tasks (every backend): a completion and an expiry that race, and a
step that runs again after its task ended."""

from __future__ import annotations

import asyncio

import orjson

from plait.store.base import Store
from plait.store.records import Completion, NewRun, NewTask, StepRecord

T0 = 1_800_000_000.0
DUE = T0 + 60


async def held(store: Store, run_id: str) -> int:
    """Create ``run_id`` and lease it; return its fence."""
    await store.create_run(NewRun(run_id, "wf", b"[]", T0))
    [claimed] = await store.claim_runs("w1", ["wf"], 1, T0, T0 + 600)
    return claimed.fence


def waiting_step(task_id: str, at: float = T0) -> StepRecord:
    return StepRecord("sign", 0, "sign", "task", "waiting", 0,
                      orjson.dumps({"taskId": task_id}), started_at=at,
                      wake_at=at + 60)  # fmt: skip


def new_task(run_id: str, task_id: str, at: float = T0) -> NewTask:
    return NewTask(org="default", id=task_id, run_id=run_id, step_key="sign", workflow="wf",
                   title="Sign", assignee="ann", created_at=at, choices=["ok"],
                   due_at=at + 60)  # fmt: skip


async def test_a_completion_and_an_expiry_that_race_have_one_winner(store: Store) -> None:
    tasks = store
    for attempt in range(8):
        run_id = f"run_race{attempt}"
        fence = await held(store, run_id)
        task = await tasks.create_task(fence, waiting_step(f"task_r{attempt}"),
                                       new_task(run_id, f"task_r{attempt}"))  # fmt: skip
        answer = Completion("ok", None, None, "ann", DUE)
        error = orjson.dumps({"type": "plait.errors.TaskExpired", "message": "expired"})
        racers = [tasks.expire_task(fence, task, error, DUE),
                  tasks.complete_task("default", task.id, "ann", answer)]  # fmt: skip
        if attempt % 2:
            racers.reverse()
        results = await asyncio.gather(*racers)
        expired = next(r for r in results if not isinstance(r, tuple))
        completed, done = next(r for r in results if isinstance(r, tuple))
        final = await tasks.get_task("default", task.id)
        assert final is not None and final.status in ("completed", "expired")
        assert expired.status == final.status  # the loser sees the winner's outcome
        assert completed is not None and completed.status == final.status
        assert done == (final.status == "completed")
        run = await store.get_run(run_id)
        assert run is not None
        [step] = run.steps
        assert step.status == ("completed" if done else "failed")
        await store.cancel_run(run_id, DUE)  # the next iteration claims its own run
    events = await store.list_events("default", None, 100)
    kinds = [e.type for e in events if e.type in ("HumanTask.completed", "HumanTask.expired")]
    assert len(kinds) == 8  # one outcome per task, never both


async def test_a_step_that_runs_again_after_its_task_expired_gets_a_new_task(
    store: Store,
) -> None:
    tasks = store
    fence = await held(store, "run_again")
    first = await tasks.create_task(
        fence, waiting_step("task_one"), new_task("run_again", "task_one")
    )
    same = await tasks.create_task(
        fence, waiting_step("task_dup"), new_task("run_again", "task_dup")
    )  # a replay: no second task
    assert same.id == first.id and same.attempt == 1
    error = orjson.dumps({"type": "plait.errors.TaskExpired", "message": "expired"})
    await tasks.expire_task(fence, first, error, DUE)
    later = DUE + 100
    second = await tasks.create_task(fence, waiting_step("task_two", later),
                                     new_task("run_again", "task_two", later))  # fmt: skip
    assert second.id == "task_two" and second.attempt == 2 and second.status == "open"
    assert second.due_at == later + 60
    found = await tasks.task_for_step("run_again", "sign")
    assert found is not None and found.id == "task_two"
    listed = await tasks.list_tasks("default", "ann", None, 10)
    assert {(t.id, t.status, t.attempt) for t in listed} == {
        ("task_one", "expired", 1), ("task_two", "open", 2),
    }  # fmt: skip
