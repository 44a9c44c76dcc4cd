"""``onError: human-review`` (brief 003, "Escalate to human"): a step that failed after its
retries opens a task showing the step, its input and its error; the reviewer's decision
(retry, skip, fail) decides the run, through Python and the CLI, across a restart of the engine,
on both backends."""

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
from plait.errors import TaskForbidden
from plait.resources.tasks import Task
from plait.testing import assert_eventually
from tests.integration.helpers import wait_status

MakeEngine = Callable[..., Engine]

CHARGE: dict[str, Any] = {"name": "checkout", "steps": [
    {"id": "reserve", "type": "function", "function": "reserve",
     "input": {"sku": "{{ input.sku }}"}},
    {"id": "charge", "name": "Charge card", "type": "function", "function": "charge",
     "dependsOn": ["reserve"], "input": {"amount": "{{ input.amount }}", "sku": "{{ input.sku }}"},
     "retryPolicy": {"maxAttempts": 2, "baseDelay": 0}, "onError": "human-review"},
    {"id": "receipt", "type": "function", "function": "receipt", "dependsOn": ["charge"],
     "input": {"charged": "{{ charge }}"}},
]}  # fmt: skip
ORDER = {"sku": "lamp", "amount": 40}


class Shop:
    """The actions of ``checkout``, counting calls; ``charge`` fails its first ``failures``
    calls (``card declined``)."""

    def __init__(self, failures: int = 2) -> None:
        self.calls = {"reserve": 0, "charge": 0, "receipt": 0}
        self.failures = failures

    def engine(self, make_engine: MakeEngine, **settings: Any) -> Engine:
        engine = make_engine(**settings)
        engine.action("reserve")(self.reserve)
        engine.action("charge")(self.charge)
        engine.action("receipt")(self.receipt)
        engine.define(CHARGE)
        return engine

    def reserve(self, item: dict[str, Any]) -> dict[str, Any]:
        self.calls["reserve"] += 1
        return {"reserved": item["sku"]}

    def charge(self, item: dict[str, Any]) -> dict[str, Any]:
        self.calls["charge"] += 1
        if self.calls["charge"] <= self.failures:
            raise RuntimeError("card declined")
        return {"charged": item["amount"]}

    def receipt(self, item: dict[str, Any]) -> str:
        self.calls["receipt"] += 1
        return "sent"


async def review_task(engine: Engine) -> Task:
    """The one open task of the shared inbox, once it exists."""
    found: list[Task] = []

    async def has_task() -> bool:
        found[:] = (await engine.tasks.find("default", assignee="*", status="open")).items
        return len(found) == 1

    await assert_eventually(has_task)
    return found[0]


async def test_a_failed_step_opens_a_task_with_its_step_input_and_error(
    make_engine: MakeEngine,
) -> None:
    shop = Shop()
    engine = shop.engine(make_engine)
    async with engine:
        handle = await engine.start("checkout", ORDER)
        task = await review_task(engine)
        await wait_status(engine, handle.id, "waiting")
        run = await engine.runs.get("default", handle.id)
    assert task.title == "Review failed step 'Charge card'"
    assert task.assignee == "*" and task.choices == ["retry", "skip", "fail"]
    assert task.data == {
        "workflow": "checkout",
        "step": {"id": "charge", "name": "Charge card", "key": "charge"},
        "input": {"amount": 40, "sku": "lamp"},
        "error": {"type": "RuntimeError", "message": "card declined"},
    }
    assert task.description is not None and "RuntimeError: card declined" in task.description
    assert task.run_id == handle.id and task.step_key == "charge.review"
    assert [(s.key, s.status, s.attempts) for s in run.steps] == [
        ("reserve", "completed", 1), ("charge", "failed", 2), ("charge.review", "waiting", 0),
    ]  # fmt: skip
    assert shop.calls == {"reserve": 1, "charge": 2, "receipt": 0}


async def test_retry_runs_the_step_again_from_a_fresh_attempt_count(
    make_engine: MakeEngine,
) -> None:
    shop = Shop(failures=3)  # the retry's first attempt fails too, its second succeeds
    engine = shop.engine(make_engine)
    async with engine:
        handle = await engine.start("checkout", ORDER)
        task = await review_task(engine)
        await engine.tasks.complete("default", task.id, decision="retry", by="ops")
        output = await handle.result(timeout=10)
        run = await engine.runs.get("default", handle.id)
    assert output["charge"] == {"charged": 40} and output["receipt"] == "sent"
    assert run.status == "succeeded" and run.outcome == "succeeded" and run.success
    assert [(s.key, s.status, s.attempts) for s in run.steps] == [
        ("reserve", "completed", 1), ("charge", "failed", 2), ("charge.review", "completed", 1),
        ("charge#2", "completed", 2), ("receipt", "completed", 1),
    ]  # fmt: skip
    review = next(s for s in run.steps if s.key == "charge.review")
    assert review.output["decision"] == "retry" and review.output["completedBy"] == "ops"
    assert run.failed_steps == ["charge"]
    assert shop.calls == {"reserve": 1, "charge": 4, "receipt": 1}


async def test_a_retry_that_fails_again_is_reviewed_again(make_engine: MakeEngine) -> None:
    shop = Shop(failures=10)
    engine = shop.engine(make_engine)
    async with engine:
        handle = await engine.start("checkout", ORDER)
        first = await review_task(engine)
        await engine.tasks.complete("default", first.id, decision="retry", by="ops")

        async def second_review() -> bool:
            page = await engine.tasks.find("default", assignee="*", status="open")
            return [t.step_key for t in page.items] == ["charge.review#2"]

        await assert_eventually(second_review)
        [second] = (await engine.tasks.find("default", assignee="*", status="open")).items
        assert second.data["step"]["key"] == "charge#2"
        await engine.tasks.complete("default", second.id, decision="fail", by="ops")
        with pytest.raises(WorkflowFailed) as failed:
            await handle.result(timeout=10)
    assert failed.value.error["type"] == "RuntimeError" and failed.value.error["step"] == "charge#2"
    assert shop.calls["charge"] == 4 and shop.calls["receipt"] == 0


async def test_skip_carries_on_and_the_run_is_partial(make_engine: MakeEngine) -> None:
    shop = Shop()
    engine = shop.engine(make_engine)
    async with engine:
        handle = await engine.start("checkout", ORDER)
        task = await review_task(engine)
        await engine.tasks.complete("default", task.id, decision="skip", by="ops")
        output = await handle.result(timeout=10)
        run = await engine.runs.get("default", handle.id)
        workflow = await engine.workflows.get("default", "checkout")
    assert output["charge"] is None and output["receipt"] == "sent"
    assert run.status == "succeeded" and run.outcome == "partial" and not run.success
    assert run.failed_steps == ["charge"]
    assert run.completed_steps == ["reserve", "charge.review", "receipt"]
    assert shop.calls == {"reserve": 1, "charge": 2, "receipt": 1}
    assert workflow.failure_count == 1 and workflow.success_count == 0


async def test_fail_fails_the_run_with_the_step_error(make_engine: MakeEngine) -> None:
    shop = Shop()
    engine = shop.engine(make_engine)
    async with engine:
        handle = await engine.start("checkout", ORDER)
        task = await review_task(engine)
        await engine.tasks.complete("default", task.id, decision="fail", by="ops")
        with pytest.raises(WorkflowFailed) as failed:
            await handle.result(timeout=10)
        run = await engine.runs.get("default", handle.id)
    assert failed.value.error["type"] == "RuntimeError"
    assert failed.value.error["message"] == "card declined"
    assert run.status == "failed" and run.outcome == "failed"
    assert run.steps[-1].key == "charge.review" and run.steps[-1].output["decision"] == "fail"
    assert shop.calls == {"reserve": 1, "charge": 2, "receipt": 0}


async def test_a_restart_with_the_task_open_resumes_without_repeating_steps(
    make_engine: MakeEngine,
) -> None:
    shop = Shop()
    first = shop.engine(make_engine)
    async with first:
        handle = await first.start("checkout", ORDER)
        task = await review_task(first)
        await wait_status(first, handle.id, "waiting")
    await first.close()

    second = shop.engine(make_engine)  # a new process's engine on the same database
    async with second:
        assert (await review_task(second)).id == task.id  # still open, not opened again
        await second.tasks.complete("default", task.id, decision="retry", by="ops")
        output = await second.handle(handle.id).result(timeout=10)
        tasks = (await second.tasks.find("default")).items
    assert output["charge"] == {"charged": 40}
    assert shop.calls == {"reserve": 1, "charge": 3, "receipt": 1}
    assert [t.id for t in tasks] == [task.id]


def plait(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
    return subprocess.run([sys.executable, "-m", "plait", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


@pytest.mark.parametrize(
    ("decision", "status", "outcome", "charges"),
    [("retry", "succeeded", "succeeded", 3), ("skip", "succeeded", "partial", 2),
     ("fail", "failed", "failed", 2)],
)  # fmt: skip
async def test_decisions_from_the_shell(
    tmp_path: Path, decision: str, status: str, outcome: str, charges: int
) -> None:
    db = f"sqlite:///{tmp_path / 'plait.db'}"
    shop = Shop()
    engine = shop.engine(lambda **settings: Engine(db, **settings))
    async with engine:
        handle = await engine.start("checkout", ORDER)
        await review_task(engine)
        await wait_status(engine, handle.id, "waiting")
    await engine.close()

    listed = plait("tasks", "list", "--assignee", "*", "--status", "open", "--json", "--db", db,
                   cwd=tmp_path)  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    [task] = json.loads(listed.stdout)["items"]
    assert task["data"]["error"] == {"type": "RuntimeError", "message": "card declined"}
    done = plait("tasks", "complete", task["$id"], "--decision", decision, "--by", "ops",
                 "--db", db, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr

    engine = shop.engine(lambda **settings: Engine(db, **settings))
    async with engine:
        await engine.start_worker()
        await wait_status(engine, handle.id, status)
        run = await engine.runs.get("default", handle.id)
    await engine.close()
    assert run.outcome == outcome
    assert shop.calls["reserve"] == 1 and shop.calls["charge"] == charges


async def test_the_reviewer_names_who_is_offered_the_task(make_engine: MakeEngine) -> None:
    shop = Shop()
    engine = make_engine()
    engine.action("charge")(shop.charge)
    engine.define({"name": "pay", "steps": [
        {"id": "charge", "type": "function", "function": "charge", "input": {"amount": 1},
         "onError": "human-review", "reviewer": "input.owner"},
    ]})  # fmt: skip
    async with engine:
        handle = await engine.start("pay", {"owner": "ann"})
        found: list[Task] = []

        async def anns() -> bool:
            found[:] = (await engine.tasks.find("default", assignee="ann", status="open")).items
            return len(found) == 1

        await assert_eventually(anns)
        with pytest.raises(TaskForbidden, match="assigned to 'ann'"):
            await engine.tasks.complete("default", found[0].id, decision="skip", by="bob")
        await engine.tasks.complete("default", found[0].id, decision="skip", by="ann")
        with pytest.raises(WorkflowFailed) as failed:  # its only step failed: none succeeded
            await handle.result(timeout=10)
    assert failed.value.error["type"] == "plait.NoStepSucceeded"


async def test_a_registered_human_review_action_is_still_the_fallback(
    make_engine: MakeEngine,
) -> None:
    shop = Shop()
    engine = shop.engine(make_engine)
    seen: list[Any] = []

    @engine.action("human-review")
    def human_review(item: Any) -> dict[str, Any]:
        seen.append(item)
        return {"queued": True}

    async with engine:
        output = await (await engine.start("checkout", ORDER)).result(timeout=10)
        tasks = (await engine.tasks.find("default")).items
    assert output["charge"] == {"queued": True}
    assert seen == [{"amount": 40, "sku": "lamp"}] and tasks == []


def test_human_review_is_a_policy_of_every_dialect_with_error_policies() -> None:
    known = {"reserve", "charge", "receipt"}.__contains__
    service = check_definition(CHARGE, actions=known)
    assert service.errors == [] and service.definition is not None
    assert service.definition.steps[1].on_error == "human-review"
    entity = check_definition({"name": "e", "triggerEvent": "Deal.won", "errorHandling":
                               "HumanReview", "steps": [{"action": "charge", "mapping": {}}]},
                              actions=known)  # fmt: skip
    assert entity.errors == [] and entity.definition is not None
    assert entity.definition.on_error == "human-review"
    canonical = check_definition({"name": "c", "on_error": "human-review", "reviewer": "ops",
                                  "steps": [{"id": "a", "kind": "action", "action": "charge"}]},
                                 actions=known)  # fmt: skip
    assert canonical.errors == [] and canonical.definition is not None


def test_a_group_cannot_be_reviewed_and_a_misplaced_reviewer_is_ignored() -> None:
    group = check_definition({"name": "g", "steps": [
        {"id": "both", "type": "parallel", "onError": "human-review",
         "steps": [{"id": "a", "function": "log"}, {"id": "b", "function": "log"}]},
        {"id": "c", "function": "log", "reviewer": "ann"},
    ]})  # fmt: skip
    messages = {(p.path, p.message) for p in group.errors}
    assert (
        "$.steps[0].onError",
        "a group step (parallel, condition, foreach) cannot have the "
        "error policy human-review: give it to the steps inside it",
    ) in messages
    warnings = {(p.path, p.message) for p in group.warnings}
    assert ("$.steps[1].reviewer", "'reviewer' is ignored unless onError is 'human-review'") in (
        warnings
    )
