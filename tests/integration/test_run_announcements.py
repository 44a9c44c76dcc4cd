"""Every start of a run of a stored workflow emits ``Workflow.triggered`` and fires the
``trigger`` after-hooks, whatever started it; every end emits ``Workflow.finished`` with the
outcome and the counters, and fires the ``finish`` after-hooks; the brief's failure-rate hook
works as written; announcements do not loop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from plait import Engine
from plait.cli.common import current_user
from plait.errors import HookVetoed
from plait.resources.workflows import StoredWorkflow
from plait.service.hooks import HookContext
from plait.store.announcements import MAX_CASCADE
from plait.testing import VirtualClock, assert_eventually

MakeEngine = Callable[..., Engine]

LOG = [{"action": "log", "mapping": {"message": "'hi'"}}]
LOCAL = {"name": "local", "key": None, "user": None, "interface": "python"}
"""The actor of a change from Python that did not say who (the audit trail's)."""
FLAKY = [{"id": "charge", "action": "charge", "mapping": {"amount": "input.amount"}}]


async def announcements(engine: Engine, org: str = "acme") -> list[dict[str, Any]]:
    """The ``Workflow.triggered`` and ``Workflow.finished`` events of ``org``, oldest first."""
    page = await engine.events.find(org, limit=1000)
    kinds = ("Workflow.triggered", "Workflow.finished")
    return [{"type": e.event_type, **e.data} for e in reversed(page.items) if e.event_type in kinds]


async def ended(engine: Engine, run_id: str, org: str = "acme") -> None:
    """Wait until the run has ended (whatever its outcome)."""

    async def done() -> bool:
        return (await engine.runs.get(org, run_id)).outcome is not None

    await assert_eventually(done)


async def stored(engine: Engine, body: dict[str, Any], org: str = "acme") -> StoredWorkflow:
    created = await engine.workflows.create(org, body)
    return await engine.workflows.activate(org, created.id)


async def test_every_start_kind_is_announced_and_hooked(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock)
    started: list[tuple[str, dict[str, Any], int]] = []

    @engine.workflows.after("trigger")
    def record(workflow: StoredWorkflow, ctx: HookContext) -> None:
        assert ctx.run is not None
        started.append((workflow.name, ctx.run.trigger, workflow.run_count))

    won = await stored(engine, {"name": "won", "triggerEvent": "Deal.won", "steps": LOG})
    nightly = await stored(engine, {"name": "nightly", "schedule": {"cron": "0 2 * * *"},
                                    "steps": LOG})  # fmt: skip
    parent = await stored(engine, {"name": "parent", "triggerEvent": "Order.placed", "steps": [
        {"id": "sub", "type": "workflow", "workflow": "won", "input": {}}]})  # fmt: skip
    event = await engine.events.emit("acme", "Deal.won", {"value": 1})
    manual = await engine.workflows.trigger("acme", won.id, {"value": 2})
    await clock.advance(86_400)
    assert (await engine.schedules.tick(clock.time())).started == 1
    async with engine:  # a worker runs the parent, whose step starts a child
        await engine.events.emit("acme", "Order.placed", {})

        async def all_started() -> bool:
            return len(started) == 5

        await assert_eventually(all_started)
    kinds = {(name, trigger["kind"]) for name, trigger, _ in started}
    assert kinds == {("won", "event"), ("won", "manual"), ("nightly", "schedule"),
                     ("parent", "event"), ("won", "child")}  # fmt: skip
    by_run = {a["run"]["$id"]: a for a in await announcements(engine)
              if a["type"] == "Workflow.triggered"}  # fmt: skip
    assert by_run[event.runs[0]]["run"]["trigger"] == {
        "kind": "event",
        "eventId": event.id,
        "eventType": "Deal.won",
    }
    assert by_run[event.runs[0]]["$id"] == won.id and by_run[event.runs[0]]["name"] == "won"
    assert by_run[manual.id]["run"]["trigger"] == {"kind": "manual", "actor": LOCAL}
    [tick] = [a for a in by_run.values() if a["name"] == "nightly"]
    assert tick["run"]["trigger"]["scheduleId"].startswith("schedule_")
    assert tick["run"]["trigger"]["tick"].endswith("T02:00:00.000Z")
    [child] = [a for a in by_run.values() if a["run"]["trigger"]["kind"] == "child"]
    assert child["run"]["trigger"]["parentRunId"] in {
        a["run"]["$id"] for a in by_run.values() if a["$id"] == parent.id
    }
    assert nightly.id in {a["$id"] for a in by_run.values()}


async def test_every_end_emits_workflow_finished_with_outcome_and_counters(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine()
    failures = iter([ValueError("card declined"), None, None])
    ends: list[tuple[str | None, int, int, int]] = []

    @engine.action("charge")
    def charge(data: dict[str, Any]) -> dict[str, Any]:
        error = next(failures)
        if error is not None:
            raise error
        return {"charged": data["amount"]}

    @engine.workflows.after("finish")
    async def on_end(workflow: StoredWorkflow, ctx: HookContext) -> None:
        assert ctx.run is not None
        ends.append((ctx.run.outcome, workflow.run_count, workflow.success_count,
                      workflow.failure_count))  # fmt: skip

    billing = await stored(engine, {"name": "billing", "triggerEvent": "Invoice.due",
                                    "steps": FLAKY})  # fmt: skip
    async with engine:
        for amount in (1, 2):
            emitted = await engine.events.emit("acme", "Invoice.due", {"amount": amount})
            await ended(engine, emitted.runs[0])

        async def both_ended() -> bool:
            return len(ends) == 2

        await assert_eventually(both_ended)
    assert ends == [("failed", 1, 0, 1), ("succeeded", 2, 1, 1)]
    finished = [a for a in await announcements(engine) if a["type"] == "Workflow.finished"]
    assert [a["run"]["outcome"] for a in finished] == ["failed", "succeeded"]
    last = finished[-1]
    assert (last["$id"], last["name"]) == (billing.id, "billing")
    assert (last["runCount"], last["successCount"], last["failureCount"]) == (2, 1, 1)
    assert last["run"]["status"] == "succeeded" and last["run"]["durationMs"] >= 0
    assert last["run"]["trigger"]["kind"] == "event"
    assert (await engine.workflows.get("acme", billing.id)).run_count == 2


async def test_the_brief_failure_rate_hook_works_as_written(make_engine: MakeEngine) -> None:
    engine = make_engine()

    @engine.action("charge")
    def charge(data: dict[str, Any]) -> None:
        raise ValueError("card declined")

    # brief 000: Workflow.triggered((workflow, $) => { ... $.Event.create({...}) })
    @engine.workflows.after("trigger")
    def high_failure_rate(workflow, ctx):  # type: ignore[no-untyped-def]
        if workflow.failure_count > 0:
            failure_rate = workflow.failure_count / workflow.run_count
            if failure_rate > 0.1:
                ctx.Event.create({
                    "type": "workflow.high_failure_rate",
                    "data": {
                        "workflow": workflow.id,
                        "failureRate": failure_rate,
                        "runCount": workflow.run_count,
                    },
                })  # fmt: skip

    billing = await stored(engine, {"name": "billing", "triggerEvent": "Invoice.due",
                                    "steps": FLAKY})  # fmt: skip
    async with engine:
        first = await engine.events.emit("acme", "Invoice.due", {"amount": 1})
        await ended(engine, first.runs[0])
        assert (await engine.events.find("acme", type="workflow.high_failure_rate")).items == []
        await engine.workflows.trigger("acme", billing.id, {"amount": 2})
    [alert] = (await engine.events.find("acme", type="workflow.high_failure_rate")).items
    assert alert.data == {"workflow": billing.id, "failureRate": 1.0, "runCount": 1}
    assert alert.source == "hook"


async def test_before_trigger_vetoes_the_manual_trigger_only(make_engine: MakeEngine) -> None:
    engine = make_engine()

    @engine.workflows.before("trigger")
    def no_manual_runs(workflow: StoredWorkflow) -> None:
        raise ValueError("runs of this workflow start from events")

    won = await stored(engine, {"name": "won", "triggerEvent": "Deal.won", "steps": LOG})
    with pytest.raises(HookVetoed, match="runs of this workflow start from events"):
        await engine.workflows.trigger("acme", won.id)
    assert len((await engine.events.emit("acme", "Deal.won", {})).runs) == 1
    assert [a["run"]["trigger"]["kind"] for a in await announcements(engine)] == ["event"]
    with pytest.raises(ValueError, match="cannot be vetoed"):
        engine.workflows.before("finish")


async def test_announcements_do_not_start_their_own_workflow_nor_loop(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine()
    body = {"triggerEvent": "Workflow.triggered", "steps": LOG}
    selfish = await stored(engine, {"name": "selfish", **body})
    await engine.workflows.trigger("acme", selfish.id)
    assert [a["name"] for a in await announcements(engine)] == ["selfish"]
    await engine.workflows.pause("acme", selfish.id)
    # ping and pong start each other from their announcements: MAX_CASCADE rounds, then stop
    await stored(engine, {"name": "ping", **body})
    await stored(engine, {"name": "pong", **body})
    seed = await stored(engine, {"name": "seed", "triggerEvent": "Deal.won", "steps": LOG})
    await engine.events.emit("acme", "Deal.won", {})
    started = [a for a in await announcements(engine) if a["$id"] != selfish.id]
    assert started[0]["$id"] == seed.id and started[0]["run"]["cascade"] == 0
    rounds = [a["run"]["cascade"] for a in started[1:]]
    assert sorted(rounds) == sorted(list(range(1, MAX_CASCADE + 1)) * 2)
    assert {a["name"] for a in started[1:]} == {"ping", "pong"}


async def test_engine_start_of_a_code_workflow_is_not_announced(make_engine: MakeEngine) -> None:
    engine = make_engine()

    @engine.workflow("direct", trigger="Ping.sent")
    async def direct(ctx: Any, data: Any) -> int:
        return 1

    async with engine:
        assert await (await engine.start("direct", {})).result() == 1
        assert await announcements(engine, "default") == []
        emitted = await engine.events.emit("default", "Ping.sent", {})
        await ended(engine, emitted.runs[0], "default")
    kinds = [
        (a["type"], a["run"]["trigger"]["kind"]) for a in await announcements(engine, "default")
    ]
    assert kinds == [("Workflow.triggered", "event"), ("Workflow.finished", "event")]
    [code] = (await engine.workflows.find("default")).items
    assert code.run_count == 2  # the counters move for every run


def test_cli_trigger_and_emit_are_announced_in_the_event_listing(tmp_path: Path) -> None:
    def plait(*args: str) -> Any:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
        done = subprocess.run([sys.executable, "-m", "plait", *args, "--org", "acme", "--json"],
                              cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    (tmp_path / "won.json").write_text(
        json.dumps({"name": "won", "triggerEvent": "Deal.won", "steps": LOG})
    )
    workflow = plait("workflows", "create", "won.json")
    plait("workflows", "activate", workflow["$id"])
    run = plait("workflows", "trigger", workflow["$id"], "--input", "{}")
    event = plait("emit", "Deal.won", "--data", "{}", "--id", "crm-1")
    listed = plait("events", "list", "--type", "Workflow.triggered")["items"]
    triggers = {item["data"]["run"]["$id"]: item["data"]["run"]["trigger"] for item in listed}
    shell = {**LOCAL, "name": current_user(), "interface": "cli"}
    assert triggers == {
        run["$id"]: {"kind": "manual", "actor": shell},
        event["runs"][0]: {"kind": "event", "eventId": "crm-1", "eventType": "Deal.won"},
    }


async def test_the_briefs_failure_rate_hook_and_a_failing_alert_do_not_loop(
    make_engine: MakeEngine,
) -> None:
    """The alert workflow the brief's hook starts fails (Slack is down), so its own start
    fires the hook again: the hook's event of a run that a hook's event started starts
    nothing (MAX_CASCADE), instead of starting alerts without end."""
    engine = make_engine()

    @engine.action("notify")
    def notify(data: Any) -> None:
        raise RuntimeError("slack down")

    @engine.workflows.after("trigger")
    def failure_rate(workflow: StoredWorkflow, ctx: HookContext) -> None:
        if workflow.failure_count > 0 and workflow.failure_count / workflow.run_count > 0.1:
            ctx.Event.create({"type": "workflow.high_failure_rate",
                              "data": {"workflow": workflow.id}})  # fmt: skip

    steps = [{"action": "notify", "mapping": {"m": "'x'"}}]
    alert = await stored(engine, {"name": "alert", "triggerEvent": "workflow.high_failure_rate",
                                  "steps": steps})  # fmt: skip
    async with engine:
        first = await engine.events.emit("acme", "workflow.high_failure_rate", {})
        await ended(engine, first.runs[0])
        await engine.events.emit("acme", "workflow.high_failure_rate", {})

        async def all_told() -> bool:  # 2 by hand, then the hook of the 2nd and of the 3rd run
            page = await engine.events.find("acme", type="workflow.high_failure_rate")
            return len(page.items) == 4

        await assert_eventually(all_told)  # each was dispatched as it was stored
        runs = (await engine.runs.find("acme", workflow="alert")).items
        for run in runs:
            await ended(engine, run.id)
        shown = await engine.workflows.get("acme", alert.id)
    assert len(runs) == 3
    assert (shown.run_count, shown.failure_count) == (3, 3)


async def test_monitors_of_finished_runs_do_not_start_each_other(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine()
    monitors = [await stored(engine, {"name": f"monitor-{n}", "triggerEvent": "Workflow.finished",
                                      "steps": LOG}) for n in range(4)]  # fmt: skip
    seed = await stored(engine, {"name": "seed", "triggerEvent": "Deal.won", "steps": LOG})
    async with engine:
        await engine.events.emit("acme", "Deal.won", {})

        async def all_ended() -> bool:  # the seed's end and each monitor's end are announced
            ends = [a for a in await announcements(engine) if a["type"] == "Workflow.finished"]
            return len(ends) == 5

        await assert_eventually(all_ended)
        found = [a for a in await announcements(engine) if a["type"] == "Workflow.finished"]
    assert sorted(a["name"] for a in found) == sorted(["seed", *(m.name for m in monitors)])
    assert {a["run"]["cascade"] for a in found if a["$id"] != seed.id} == {MAX_CASCADE}
    # an announcement says what the workflow is, not its whole definition
    assert "steps" not in found[0] and "definition" not in found[0]
    assert (found[0]["runCount"], found[0]["name"]) == (1, "seed")
