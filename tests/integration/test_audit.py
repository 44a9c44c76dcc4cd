"""The audit trail from Python on each backend: who a local change is by, the run start's hot
path without an actor, run operations and tasks, and the retention applied by the worker on
virtual time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from plait import Context, Engine
from plait.errors import ConfigurationError, IllegalTransition, StoreError
from plait.sealing import SECRET_KEY_ENV, SecretUnreadable, generate_key
from plait.service.audit import (
    EVERY_ORG,
    PRUNE_BATCH,
    PRUNE_INTERVAL_SECONDS,
    Actor,
    AuditQueryInvalid,
    audited,
)
from plait.settings import Settings
from plait.testing import VirtualClock, assert_eventually
from tests.backends import BACKENDS, database_url, select
from tests.integration.test_state_machine import ITEMS, order_machine, with_actions

DAY = 86_400.0
GREET: dict[str, Any] = {
    "name": "greet",
    "triggerEvent": "Customer.created",
    "steps": [{"id": "hello", "action": "log", "input": {"message": "hello"}}],
}

MakeEngine = Callable[..., Engine]


@pytest.fixture(params=BACKENDS)
async def make(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MakeEngine]:
    made: list[Engine] = []
    with database_url(request.param, tmp_path) as url:

        def build(**settings: Any) -> Engine:
            engine = Engine(url, **settings)
            made.append(engine)
            return engine

        try:
            yield build
        finally:
            for engine in made:
                await engine.close()


async def _rows(engine: Engine) -> int:
    found = await select(await engine.deps.store(), "SELECT COUNT(*) FROM audit_entries")
    return int(found[0][0])


async def test_a_plain_start_writes_no_entry_and_one_with_an_actor_does(make: MakeEngine) -> None:
    engine = make()

    @engine.workflow()
    async def double(ctx: Context, n: int) -> int:
        return n * 2

    async with engine:
        assert await (await engine.start(double, 2)).result(timeout=10) == 4
        assert await _rows(engine) == 0
        with engine.audit.acting("alice"):
            handle = await engine.start(double, 3)
        assert await handle.result(timeout=10) == 6

    [entry] = (await engine.audit.list("default")).items
    assert (entry.verb, entry.resource.type, entry.resource.id, entry.run) == (
        "start",
        "run",
        handle.id,
        handle.id,
    )
    assert (entry.actor.name, entry.actor.interface, entry.result) == ("alice", "python", "ok")
    assert entry.details == {"workflow": "double"}


async def test_local_changes_are_by_local_unless_someone_is_named(make: MakeEngine) -> None:
    engine = make()
    created = await engine.workflows.create("acme", GREET)
    with engine.audit.acting(Actor("ops-bot", "mcp", key_id="k1")):
        await engine.workflows.activate("acme", created.id)
    with pytest.raises(IllegalTransition):
        await engine.workflows.activate("acme", created.id)

    entries = (await engine.audit.list("acme")).items
    assert [(e.verb, e.actor.name, e.actor.interface, e.result) for e in entries] == [
        ("activate", "local", "python", "failed"), ("activate", "ops-bot", "mcp", "ok"),
        ("create", "local", "python", "ok"),
    ]  # fmt: skip
    assert entries[0].error == "IllegalTransition"
    activated = await engine.events.find("acme", type="Workflow.activated")
    assert activated.items[0].data["actor"] == {"name": "ops-bot", "key": "k1", "user": None,
                                                "interface": "mcp"}  # fmt: skip


async def test_run_operations_record_who_by_names_and_the_new_run(make: MakeEngine) -> None:
    engine = make()
    workflow = await engine.workflows.create("acme", GREET)
    run = await engine.workflows.trigger("acme", workflow.id, {})
    await engine.runs.cancel("acme", run.id, by="bob", reason="not needed")
    retried = await engine.runs.retry("acme", run.id, by="bob")

    mine = await engine.audit.list("acme", resource=run.id)
    assert [(e.verb, e.actor.name, e.details) for e in mine.items] == [
        ("retry", "bob", {"newRun": retried.id}), ("cancel", "bob", {}),
        ("trigger", "local", {"workflowVersion": 1}),
    ]  # fmt: skip
    assert [e.verb for e in await engine.audit.of_run("acme", run.id)] == [
        "trigger",
        "cancel",
        "retry",
    ]
    by_bob = await engine.audit.list("acme", actor="bob", verb="cancel")
    assert [e.resource.id for e in by_bob.items] == [run.id]


async def test_what_a_run_does_is_its_own_not_its_starters(make: MakeEngine) -> None:
    engine = make()

    async def create_workflow(name: str) -> str:
        return (await engine.workflows.create("acme", {**GREET, "name": name})).id

    async def emit(workflow_id: str) -> None:
        await engine.events.emit("acme", "Workflow.made", {"id": workflow_id})

    @engine.workflow()
    async def provision(ctx: Context, name: str) -> str:
        made: str = await ctx.step("create", create_workflow, name)
        await ctx.step("emit", emit, made)
        return made

    with engine.audit.acting("alice"):  # the worker starts here too: it acts as nobody
        async with engine:
            handle = await engine.start(provision, "made-by-a-run")
            made = await handle.result(timeout=10)

    [started] = (await engine.audit.list("default")).items
    assert (started.verb, started.actor.name, started.run) == ("start", "alice", handle.id)
    entries = (await engine.audit.list("acme")).items
    assert [(e.verb, e.resource.id, e.actor.name, e.actor.interface) for e in entries] == [
        ("create", made, "local", "python")
    ]  # the step's change; its emit has no actor


async def test_events_and_state_machine_events_are_audited_with_an_actor(
    make: MakeEngine,
) -> None:
    engine = make()
    with_actions(engine, [])
    greet = await engine.workflows.create("acme", GREET)
    await engine.workflows.activate("acme", greet.id)
    machine = await engine.workflows.create("acme", order_machine())
    await engine.workflows.activate("acme", machine.id)
    await engine.events.emit("acme", "Customer.created", {})  # no actor: the hot path
    with engine.audit.acting("alice"):
        emitted = await engine.events.emit("acme", "Customer.created", {"n": 1})
        order = {"orderId": "o-1", "items": ITEMS}
        sent = await engine.machines.send("acme", machine.name, "o-1", "Order.submitted", order,
                                          id="evt-1")  # fmt: skip

    entries = (await engine.audit.list("acme", actor="alice")).items
    assert [(e.verb, e.resource.type, e.resource.id, e.run, e.details) for e in entries] == [
        ("send", "instance", f"{machine.name}/o-1", sent.run_id,
         {"type": "Order.submitted", "event": "evt-1", "outcome": "created"}),
        ("emit", "event", emitted.id, None,
         {"type": "Customer.created", "runsStarted": 1, "duplicate": False}),
    ]  # fmt: skip
    assert [e.verb for e in (await engine.audit.list("acme", verb="emit")).items] == ["emit"]


async def test_a_key_rotation_is_in_the_operators_trail(
    make: MakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = generate_key(), generate_key()
    monkeypatch.setenv(SECRET_KEY_ENV, old)
    engine = make()
    await engine.secrets.set("acme", "TOKEN", "tok_live_rotated")
    monkeypatch.setenv(SECRET_KEY_ENV, f"{new},{old}")
    with engine.audit.acting("ops"):
        await engine.secrets.rotate()
    monkeypatch.setenv(SECRET_KEY_ENV, generate_key())
    with pytest.raises(SecretUnreadable):
        await engine.secrets.rotate()

    entries = (await engine.audit.list(EVERY_ORG)).items
    assert [(e.verb, e.resource.type, e.actor.name, e.result, e.details) for e in entries] == [
        ("rotate", "secret", "local", "failed", {}),
        ("rotate", "secret", "ops", "ok", {"secrets": 1, "webhookSecrets": 0}),
    ]  # fmt: skip
    assert [e.verb for e in (await engine.audit.list("acme")).items] == ["set"]


async def test_outer_verbs_record_once(make: MakeEngine) -> None:
    engine = make()
    body = {**GREET, "schedule": {"cron": "0 9 * * *"}}
    created = await engine.workflows.create("acme", body)
    scenario = {"name": "greets", "input": {}, "expect": {"outcome": "succeeded"}}
    await engine.workflow_tests.put("acme", created.id, [scenario])

    entries = (await engine.audit.list("acme")).items
    assert [(e.verb, e.resource.type, e.version_before, e.version_after, e.details)
            for e in entries] == [
        ("update", "workflow", 1, 2, {"fields": ["tests"]}),
        ("create", "workflow", None, 1, {"name": "greet"}),
    ]  # fmt: skip


async def test_a_cancelled_change_is_recorded_and_the_next_one_too(make: MakeEngine) -> None:
    engine = make()
    with pytest.raises(asyncio.CancelledError):  # a change cut off, say by a client's timeout
        async with audited(engine.deps, "acme", "delete", "secret", "stripe"):
            raise asyncio.CancelledError
    await engine.workflows.create("acme", GREET)  # the same task goes on changing things

    entries = (await engine.audit.list("acme")).items
    assert [(e.verb, e.resource.type, e.result, e.error) for e in entries] == [
        ("create", "workflow", "ok", None),
        ("delete", "secret", "failed", "CancelledError"),
    ]


@pytest.mark.parametrize(
    ("arguments", "parameter"),
    [({"since": "soon"}, "since"), ({"since": "2027-02-30"}, "since"),
     ({"until": float("nan")}, "until"), ({"limit": 0}, "limit"),
     ({"cursor": "x"}, "cursor"), ({"resource": ""}, "resource")],
)  # fmt: skip
async def test_bad_arguments_name_themselves(
    make: MakeEngine, arguments: dict[str, Any], parameter: str
) -> None:
    with pytest.raises(AuditQueryInvalid) as caught:
        await make().audit.list("acme", **arguments)
    assert caught.value.parameter == parameter


async def test_the_worker_prunes_entries_past_the_retention(make: MakeEngine) -> None:
    clock = VirtualClock(start=1_800_000_000.0)
    engine = make(clock=clock, audit_retention_days=1)
    old = await engine.workflows.create("acme", GREET)
    await clock.advance(DAY / 2)
    young = await engine.workflows.create("acme", {**GREET, "name": "young"})
    async with engine:
        await clock.advance(DAY * 0.75)  # old is 1.25 days old, young 0.75

        async def pruned() -> bool:
            await clock.advance(1)
            ids = [e.resource.id for e in (await engine.audit.list("acme")).items]
            return ids == [young.id]

        await assert_eventually(pruned)
    assert old.id != young.id


async def test_a_failing_retention_is_retried_later_and_stops_nothing(
    make: MakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = VirtualClock(start=1_800_000_000.0)
    engine = make(clock=clock, audit_retention_days=1)
    tries: list[float] = []

    async def refused(now: float) -> int:  # say, DELETE revoked on the table
        tries.append(now)
        raise StoreError("permission denied for table audit_entries")

    monkeypatch.setattr(engine.audit, "prune", refused)

    @engine.workflow("ping")
    async def ping(ctx: Context) -> str:
        return "pong"

    async def tried(times: int) -> bool:
        return len(tries) == times

    async with engine:
        await assert_eventually(partial(tried, 1))
        for _ in range(3):  # the worker's loop goes on claiming and running
            assert await (await engine.start("ping")).result() == "pong"
            await clock.advance(1)
        assert len(tries) == 1  # not again on every turn of the loop
        assert await engine.audit.maintain(clock.time()) == 0 and len(tries) == 1
    with pytest.raises(StoreError):  # once the interval has passed, it is tried again
        await engine.audit.maintain(tries[0] + PRUNE_INTERVAL_SECONDS)
    assert len(tries) == 2


async def test_pruning_goes_in_batches_and_zero_keeps_everything(make: MakeEngine) -> None:
    clock = VirtualClock(start=1_800_000_000.0)
    engine = make(clock=clock, audit_retention_days=0)
    store = await engine.deps.store()
    from plait.store.audit import AuditRecord

    one = AuditRecord("audit_0", "acme", clock.time(), "local", None, None, None, "python",
                      None, "create", "key", "k0", None, None, None, "ok", None, b"{}")  # fmt: skip
    for n in range(PRUNE_BATCH + 5):
        at, made = clock.time() + n, f"k{n}"
        await store.append_audit(replace(one, id=f"audit_{n}", at=at, resource_id=made))
    await clock.advance(400 * DAY)
    assert await engine.audit.prune(clock.time()) == 0
    assert await _rows(engine) == PRUNE_BATCH + 5

    kept = engine.reconfigured(audit_retention_days=365)
    try:
        assert await kept.audit.prune(clock.time()) == PRUNE_BATCH + 5
        assert await _rows(kept) == 0
    finally:
        await kept.close()


def test_the_retention_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.load().audit_retention_days == 365
    monkeypatch.setenv("PLAIT_AUDIT_RETENTION_DAYS", "forever")
    assert Settings.load().audit_retention_days == 0
    monkeypatch.setenv("PLAIT_AUDIT_RETENTION_DAYS", "30")
    assert Settings.load().audit_retention_days == 30
    with pytest.raises(ConfigurationError, match="audit_retention_days"):
        Settings.load(audit_retention_days=-1)


async def test_the_database_refuses_to_change_an_entry(make: MakeEngine) -> None:
    engine = make()
    await engine.workflows.create("acme", GREET)
    store = await engine.deps.store()
    with pytest.raises(Exception, match="audit entries are append-only"):
        await store._submit(
            lambda db: db.execute("UPDATE audit_entries SET actor = 'someone else'")
        )
    [entry] = (await engine.audit.list("acme")).items
    assert entry.actor.name == "local"


def test_the_trail_has_no_verb_that_changes_an_entry() -> None:
    from plait.service.audit import AuditService
    from plait.store.audit import AuditVerbs

    assert sorted(n for n in vars(AuditVerbs) if not n.startswith("_")) == [
        "append_audit", "audit_of_run", "page_audit", "prune_audit"]  # fmt: skip
    assert sorted(n for n in vars(AuditService) if not n.startswith("_")) == [
        "acting", "denied", "list", "maintain", "of_run", "prune"]  # fmt: skip
