"""Schedules as brief 001 writes them: ``engine.workflows.schedule(name, {cronExpression,
input, notifications: {onStart, onComplete}})``. Notifications are mailed to a real SMTP server
on 127.0.0.1 (aiosmtpd) when ``PLAIT_SMTP_URL`` is set, and emitted as
``Schedule.notification`` events when it is not; the schedule ticks on a virtual clock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from plait import Engine
from plait.actions.base import ActionError
from plait.service.cron import ScheduleInvalid
from plait.testing import VirtualClock, assert_eventually
from tests.mailbox import Received, smtp_server

MakeEngine = Callable[..., Engine]

REVIEW = {
    "name": "quarterly-review", "triggerEvent": "Review.requested",
    "steps": [{"action": "log", "mapping": {"message": "'reviewing ' + input.customerSegment"}}],
}  # fmt: skip
BRIEF_SCHEDULE = {
    "cronExpression": "0 0 1 1,4,7,10 *",  # first day of each quarter
    "input": {"customerSegment": "enterprise", "includeMetrics": ["revenue", "usage"]},
    "notifications": {
        "onStart": ["account-managers@example.com"],
        "onComplete": ["customer-success@example.com", "sales-leadership@example.com"],
    },
}
SMTP_FROM = "plait@example.com"
# Time moves by months: the worker sleeps until the next tick, not poll by poll.
QUIET = {"poll_seconds": 10**6, "lease_seconds": 10**7, "heartbeat_seconds": 10**6}


async def eventually(find: Callable[[], Awaitable[Any]]) -> Any:
    """What ``find`` returns once it is something."""
    found: list[Any] = []

    async def check() -> bool:
        found[:] = [await find()]
        return bool(found[0])

    await assert_eventually(check, timeout=20)
    return found[0]


async def until_the_tick_fires(engine: Engine, clock: VirtualClock, workflow: str) -> Any:
    """Move the clock to the schedule's next tick; the scheduled run, once it has ended."""
    [schedule] = (await engine.schedules.find("default", workflow)).items
    await clock.advance(schedule.next_fire_at.timestamp() - clock.time())

    async def ended() -> Any:
        runs = (await engine.list_runs(workflow=workflow)).items
        return runs and runs[0].status in ("succeeded", "failed") and runs[0]

    return await eventually(ended)


def by_recipients(messages: list[Received]) -> dict[tuple[str, ...], Received]:
    return {tuple(m.recipients): m for m in messages}


async def notification_runs(engine: Engine, status: str = "succeeded") -> list[Any]:
    """The runs of ``plait.notify``, once they all have ``status``."""

    async def settled() -> list[Any]:
        runs = (await engine.list_runs(workflow="plait.notify")).items
        return runs if runs and all(r.status == status for r in runs) else []

    found: list[Any] = await eventually(settled)
    return found


async def test_the_brief_schedule_mails_its_start_and_its_success(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    async with smtp_server() as mailbox:
        engine = make_engine(clock=clock, smtp_url=mailbox.url, smtp_from=SMTP_FROM, **QUIET)
        async with engine:
            created = await engine.workflows.create("default", REVIEW)
            await engine.workflows.activate("default", created.id)
            schedule = await engine.workflows.schedule("quarterly-review", BRIEF_SCHEDULE)
            assert schedule.cron == "0 0 1 1,4,7,10 *" and schedule.workflow == created.id
            assert schedule.wire()["notifications"] == BRIEF_SCHEDULE["notifications"]
            assert schedule.wire()["nextFireAt"] == "2027-04-01T00:00:00.000Z"
            run = await until_the_tick_fires(engine, clock, "quarterly-review")
            assert (run.status, run.trigger) == ("succeeded", "schedule")
            assert run.input == BRIEF_SCHEDULE["input"]
            told = by_recipients(await mailbox.wait_for(2))
            notifying = await notification_runs(engine)
    assert {(r.trigger, r.outcome) for r in notifying} == {("schedule", "succeeded")}
    assert len(notifying) == 2 and len(mailbox.messages) == 2
    start = told[("account-managers@example.com",)]
    assert start.sender == SMTP_FROM
    assert start.subject == "Scheduled run of quarterly-review started"
    assert f"started run {run.id} of workflow quarterly-review" in start.text()
    done = told[("customer-success@example.com", "sales-leadership@example.com")]
    assert done.subject == "Scheduled run of quarterly-review succeeded"
    assert done.message["To"] == "customer-success@example.com, sales-leadership@example.com"
    body = done.text()
    assert f"Run {run.id} of workflow quarterly-review" in body
    assert f"started by schedule {schedule.id}" in body and "Outcome: succeeded" in body


async def test_a_failed_run_mails_its_outcome_and_error(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    async with smtp_server() as mailbox:
        engine = make_engine(clock=clock, smtp_url=mailbox.url, smtp_from=SMTP_FROM, **QUIET)

        @engine.action("compile-report")
        async def compile_report(value: Any) -> Any:
            raise ActionError("the warehouse is down")

        failing = {**REVIEW, "steps": [{"action": "compile-report", "mapping": {}}]}
        async with engine:
            created = await engine.workflows.create("default", failing)
            await engine.workflows.activate("default", created.id)
            await engine.workflows.schedule(created.id, {
                "cron": "@hourly", "notifications": {"onComplete": "ops@example.com"},
            })  # fmt: skip
            run = await until_the_tick_fires(engine, clock, "quarterly-review")
            [done] = await mailbox.wait_for(1)
            await notification_runs(engine)
    assert run.status == "failed"
    assert done.recipients == ["ops@example.com"]  # no onStart: no start message
    assert done.subject == "Scheduled run of quarterly-review failed"
    assert "Outcome: failed" in done.text() and "the warehouse is down" in done.text()
    assert len(mailbox.messages) == 1


async def test_without_smtp_the_notifications_are_events(
    make_engine: MakeEngine, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PLAIT_SMTP_URL", raising=False)
    engine = make_engine(clock=clock, **QUIET)
    async with engine:
        created = await engine.workflows.create("default", REVIEW)
        await engine.workflows.activate("default", created.id)
        schedule = await engine.workflows.schedule("quarterly-review", BRIEF_SCHEDULE)
        run = await until_the_tick_fires(engine, clock, "quarterly-review")
        await notification_runs(engine)
        events = (await engine.events.find("default", type="Schedule.notification")).items
    told = {e.data["event"]: e.data for e in events}
    assert set(told) == {"start", "complete"}
    assert told["start"]["recipients"] == ["account-managers@example.com"]
    assert told["start"]["subject"] == "Scheduled run of quarterly-review started"
    complete = told["complete"]
    assert complete["recipients"] == BRIEF_SCHEDULE["notifications"]["onComplete"]  # type: ignore[index]
    assert complete["subject"] == "Scheduled run of quarterly-review succeeded"
    assert (complete["run"], complete["schedule"], complete["outcome"]) == (
        run.id, schedule.id, "succeeded")  # fmt: skip
    assert "Outcome: succeeded" in complete["body"]


async def test_a_notification_outlives_a_mail_server_that_is_down_and_an_engine_restart(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    async with smtp_server() as gone:
        port = gone.port  # nothing listens there once the block ends
    settings = {"clock": clock, "smtp_url": f"smtp://127.0.0.1:{port}", "smtp_from": SMTP_FROM,
                **QUIET}  # fmt: skip
    first = make_engine(**settings)
    async with first:
        created = await first.workflows.create("default", REVIEW)
        await first.workflows.activate("default", created.id)
        await first.workflows.schedule("quarterly-review", {
            "cron": "@daily", "input": BRIEF_SCHEDULE["input"],
            "notifications": {"onComplete": ["ops@example.com"]}})  # fmt: skip
        run = await until_the_tick_fires(first, clock, "quarterly-review")
        [notifying] = await notification_runs(first, status="waiting")  # its retry, suspended
        [email] = (await first.handle(notifying.id).info()).steps
    assert run.status == "succeeded"  # the mail server being down is not the run's business
    assert (email.name, email.status, email.attempts) == ("email", "retrying", 1)
    assert f"cannot connect to SMTP server 127.0.0.1:{port}" in str(email.error)
    async with smtp_server() as mailbox:
        # Another process, the mail server back on the configured port's stand-in.
        second = make_engine(**{**settings, "smtp_url": mailbox.url})
        async with second:
            await second.start_worker()
            await clock.advance(60)  # past the retry's delay
            [done] = await mailbox.wait_for(1)
            [sent] = await notification_runs(second)
    assert sent.id == notifying.id and done.recipients == ["ops@example.com"]
    assert f"Run {run.id} of workflow quarterly-review" in done.text()


@pytest.mark.parametrize(
    ("spec", "path", "message"),
    [
        ({"cronExpression": "@daily", "notifications": {"onStart": ["ok@x.test", "nope"]}},
         "notifications.onStart[1]", "'onStart[1]' is not an email address: 'nope'"),
        ({"cronExpression": "@daily", "notifications": {"onFinish": ["a@x.test"]}},
         "notifications.onFinish", "unknown notification(s) 'onFinish'"),
        ({"cron": "@daily", "cronExpression": "@hourly"}, "cronExpression",
         "cron '@daily' and cronExpression '@hourly' differ"),
    ],
)  # fmt: skip
async def test_an_invalid_schedule_names_the_field(
    make_engine: MakeEngine, clock: VirtualClock, spec: dict[str, Any], path: str, message: str
) -> None:
    engine = make_engine(clock=clock)
    async with engine:
        await engine.workflows.create("default", REVIEW)
        with pytest.raises(ScheduleInvalid) as caught:
            await engine.workflows.schedule("quarterly-review", spec)
        assert (await engine.schedules.find("default")).items == []
    assert caught.value.path == path and message in caught.value.reason


def test_plait_schedules_create_takes_the_recipients(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}

    def plait(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "plait", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip

    (tmp_path / "review.json").write_text(json.dumps(REVIEW))
    assert plait("workflows", "create", "review.json").returncode == 0
    done = plait("schedules", "create", "--workflow", "quarterly-review", "--cron", "@daily",
                 "--notify-start", "am@example.com", "--notify-complete", "cs@example.com",
                 "--notify-complete", "sales@example.com", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["notifications"] == {
        "onStart": ["am@example.com"],
        "onComplete": ["cs@example.com", "sales@example.com"],
    }
    bad = plait("schedules", "create", "--workflow", "quarterly-review", "--cron", "@daily",
                "--notify-complete", "nobody")  # fmt: skip
    assert bad.returncode == 4
    assert "'onComplete[0]' is not an email address: 'nobody'" in bad.stderr
