"""The page of one run: its header, its steps' values (cut when large, loadable whole), errors
as the role may see them, a window of a 10,000-step run's steps, live updates only while it
runs, and the operations (cancel, resume, retry, fork, signal) for runners only."""

from __future__ import annotations

import html
import re
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from plait import Context, Engine, RetryPolicy, values
from plait.console.pages.run import STEPS_SHOWN
from plait.console.render import JSON_SHOWN
from plait.errors import WorkflowFailed
from plait.ids import new_id
from plait.store.records import NewRun
from plait.testing import assert_eventually
from tests.console.conftest import BrowserFactory


def _text(page: str) -> str:
    """The page's text as a person reads it (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


async def _run(engine: Engine, workflow: str, *args: Any, fails: bool = False) -> str:
    await engine.start_worker()
    handle = await engine.start(workflow, *args)
    if fails:
        with pytest.raises(WorkflowFailed):
            await handle.result(timeout=30)
    else:
        await handle.result(timeout=30)
    return handle.id


def _register(engine: Engine) -> None:
    @engine.workflow("greet")
    async def greet(ctx: Context, name: str) -> dict[str, str]:
        hello = await ctx.step("hello", lambda: f"hello {name}")
        await ctx.step("shout", lambda: hello.upper())
        return {"said": hello}

    @engine.workflow("broken")
    async def broken(ctx: Context) -> None:
        def balance() -> None:
            raise ValueError("the ledger is out of balance")

        await ctx.step("balance", balance)

    @engine.workflow("big")
    async def big(ctx: Context, size: int) -> int:
        await ctx.step("blob", lambda: {"text": "x" * size, "end": "THE-END"})
        return size

    tries: list[int] = []

    @engine.workflow("flaky")
    async def flaky(ctx: Context) -> str:
        def wobble() -> str:
            tries.append(1)
            if len(tries) < 3:
                raise ConnectionError(f"try {len(tries)} failed")
            return "steady"

        await ctx.sleep("pause", seconds=0.01)
        policy = RetryPolicy(max_attempts=3, initial_delay=0.01)
        said: str = await ctx.step("wobble", wobble, retry=policy)
        return said

    fails_left = [3]

    @engine.workflow("stubborn")
    async def stubborn(ctx: Context) -> str:
        def attempt() -> str:
            if fails_left[0] > 0:
                fails_left[0] -= 1
                raise ConnectionError("not yet")
            return "finally"

        policy = RetryPolicy(max_attempts=3, initial_delay=0.01)
        said: str = await ctx.step("push", attempt, retry=policy)
        return said

    @engine.workflow("patient")
    async def patient(ctx: Context) -> Any:
        return await ctx.receive("go")


@pytest.fixture
def registered(engine: Engine) -> Engine:
    _register(engine)
    return engine


async def test_a_succeeded_run_shows_its_steps_and_their_outputs(
    registered: Engine, browser: BrowserFactory
) -> None:
    run_id = await _run(registered, "greet", "ada")
    person = await browser("default", "viewer")
    page = await person.get(f"/runs/{run_id}")
    assert page.status_code == 200
    text = _text(page.text)
    assert run_id in text and "succeeded" in text
    assert 'href="/workflows/' in page.text and ">greet</a>" in page.text
    assert "hello ada" in text and "HELLO ADA" in text  # the steps' outputs
    assert '"said": "hello ada"' in text  # the run's output
    assert "<svg" in page.text and 'class="chart timeline"' in page.text
    assert page.text.count('<g class="attempt">') == 2  # one row per attempt
    assert "data-live=" not in page.text  # a finished run's page does not follow it
    replay = await person.client.get(f"/live/runs/{run_id}")  # a stream opened anyway
    assert replay.status_code == 200 and "event: end" in replay.text  # replays, then ends
    last = re.findall(r"^id: (\S+)$", replay.text, re.MULTILINE)[-1]
    again = await person.client.get(f"/live/runs/{run_id}", headers={"Last-Event-ID": last})
    assert again.status_code == 204  # so the browser's reconnection stops there


async def test_the_timeline_draws_each_attempt_of_a_retried_step_and_waits_apart(
    registered: Engine, browser: BrowserFactory
) -> None:
    run_id = await _run(registered, "flaky")
    person = await browser("default", "viewer")
    page = await person.get(f"/runs/{run_id}")
    svg = page.text[page.text.index("<svg") : page.text.index("</svg>")]
    labels = re.findall(r'text-anchor="end">([^<]+)</text>', svg)
    assert labels == ["pause", "wobble · 1", "wobble · 2", "wobble · 3"]
    classes = re.findall(r'<rect class="([^"]+)"', svg)
    assert classes == ["bar-wait", "bar-bad bar-retry", "bar-bad bar-retry", "bar-ok"]
    assert "attempt 1 failed" in svg and "try 2 failed" not in svg  # hover says what, briefly
    assert _text(page.text).count("steady") >= 2  # the step's output and the run's


async def test_a_resumed_step_forgets_the_attempts_of_its_failed_life(
    registered: Engine, browser: BrowserFactory
) -> None:
    run_id = await _run(registered, "stubborn", fails=True)
    attempts = await registered.steps.attempts("default", run_id, ["push"])
    assert [(a.attempt, a.status) for a in attempts["push"]] == [
        (1, "retrying"), (2, "retrying"), (3, "failed"),
    ]  # fmt: skip
    await registered.runs.resume("default", run_id)
    assert await registered.runs.handle("default", run_id).result(timeout=30) == "finally"
    assert await registered.steps.attempts("default", run_id, ["push"]) == {}
    page = await (await browser("default", "viewer")).get(f"/runs/{run_id}")
    svg = page.text[page.text.index("<svg") : page.text.index("</svg>")]
    assert re.findall(r'text-anchor="end">([^<]+)</text>', svg) == ["push"]


async def test_a_failed_runs_error_shows_its_traceback_only_to_editors(
    registered: Engine, browser: BrowserFactory
) -> None:
    run_id = await _run(registered, "broken", fails=True)
    for role, sees in (("viewer", False), ("runner", False), ("editor", True), ("admin", True)):
        person = await browser("default", role)
        page = await person.get(f"/runs/{run_id}")
        assert page.status_code == 200
        text = _text(page.text)
        assert "ValueError" in text and "the ledger is out of balance" in text
        assert ("Traceback (most recent call last)" in text) is sees, role
        step = await person.get(f"/runs/{run_id}/steps/balance/error")
        assert "the ledger is out of balance" in step.text
        assert ("Traceback (most recent call last)" in step.text) is sees, role


async def test_a_large_output_is_cut_with_a_link_that_loads_it_whole(
    registered: Engine, browser: BrowserFactory
) -> None:
    run_id = await _run(registered, "big", JSON_SHOWN * 3)
    person = await browser("default", "viewer")
    page = await person.get(f"/runs/{run_id}")
    assert "THE-END" not in page.text  # cut
    link = f"/runs/{run_id}/steps/blob/output"
    assert f'hx-get="{link}"' in page.text and "Load the whole value" in page.text
    whole = await person.get(link, headers={"HX-Request": "true"})
    assert whole.status_code == 200
    assert "THE-END" in whole.text and "x" * (JSON_SHOWN * 3) in whole.text
    assert "<html" not in whole.text  # htmx gets the value only
    alone = await person.get(link)
    assert "<html" in alone.text and "THE-END" in alone.text  # a link opened: a page
    missing = await person.get(f"/runs/{run_id}/steps/nope/output")
    assert missing.status_code == 404


async def _many_steps(engine: Engine, count: int) -> str:
    """A succeeded run of ``count`` steps, its steps inserted by one statement (executing a
    workflow of 10,000 steps would take the test far longer than reading its page)."""
    store = await engine.deps.store()
    run_id = new_id("run")
    now = time.time()
    await store.create_run(NewRun(run_id, "greet", values.encode(["many"]), now),
                           owner="test", lease_until=now + 3600)  # fmt: skip
    text = "'{\"n\": ' || i || '}'"
    output = (f"convert_to({text}, 'UTF8')" if engine.settings.database_url.startswith("postgres")
              else f"CAST({text} AS BLOB)")  # fmt: skip
    sql = f"""
        INSERT INTO steps (run_id, key, position, name, kind, status, attempts, output,
                           started_at, finished_at)
        WITH RECURSIVE seq (i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < {count - 1})
        SELECT '{run_id}', CASE WHEN i = 0 THEN 'step' ELSE 'step#' || i END, i, 'step', 'step',
               'completed', 1, {output}, {now} + i * 0.01, {now} + i * 0.01 + 0.005
        FROM seq
    """
    await store._submit(lambda db: db.execute(sql))
    await store.finish_run(run_id, 1, "succeeded", values.encode(count), None, now + count)
    return run_id


async def test_a_run_of_10000_steps_opens_on_a_window_of_them(
    registered: Engine, browser: BrowserFactory
) -> None:
    run_id = await _many_steps(registered, 10_000)
    person = await browser("default", "viewer")
    page = await person.get(f"/runs/{run_id}")
    assert page.status_code == 200
    text = _text(page.text)
    assert f"Steps 1\N{EN DASH}{STEPS_SHOWN} of 10,000" in text
    rows = re.findall(r'<tr id="step-(\d+)"', page.text)
    assert rows == [str(i) for i in range(STEPS_SHOWN)]  # a window, not 10,000 rows
    assert page.text.count('<g class="attempt">') == STEPS_SHOWN
    assert len(page.text) < 400_000
    later = await person.get(f"/runs/{run_id}?start=9950")
    rows = re.findall(r'<tr id="step-(\d+)"', later.text)
    assert rows == [str(i) for i in range(9950, 10_000)]
    assert '"n": 9999' in _text(later.text)
    assert f"?start={9950 - STEPS_SHOWN}" in later.text  # back a window
    assert f"?start={10_000 - STEPS_SHOWN}" in page.text  # the last window, a click away
    jumped = await person.get(f"/runs/{run_id}?position=5001")
    assert re.findall(r'<tr id="step-(\d+)"', jumped.text)[0] == "5000"


async def test_a_missing_run_is_a_404_page(registered: Engine, browser: BrowserFactory) -> None:
    person = await browser("default", "viewer")
    page = await person.get("/runs/run_doesnotexist")
    assert page.status_code == 404
    assert "Not found" in page.text and "run_doesnotexist" in page.text
    other = await browser("acme", "admin")  # another organization's run is not found either
    run_id = await _run(registered, "greet", "ada")
    assert (await other.get(f"/runs/{run_id}")).status_code == 404


async def test_a_live_run_is_followed_and_takes_a_signal_from_a_runner(
    registered: Engine, browser: BrowserFactory
) -> None:
    await registered.start_worker()
    handle = await registered.start("patient")
    await _waiting(registered, handle.id)
    runner = await browser("default", "runner")
    page = await runner.get(f"/runs/{handle.id}")
    assert f'data-live="/live/runs/{handle.id}"' in page.text
    assert 'action="/runs/' + handle.id + '/signal"' in page.text
    bad = await runner.post(f"/runs/{handle.id}/signal", {"name": "go", "payload": "{nope"})
    assert bad.status_code == 422
    assert "not JSON" in bad.text and "{nope" in bad.text  # the form again, as sent
    sent = await runner.post(f"/runs/{handle.id}/signal",
                             {"name": "go", "payload": '{"ok": true}'})  # fmt: skip
    assert sent.status_code == 200 and "The signal was sent" in sent.text
    assert await handle.result(timeout=30) == {"ok": True}


async def _waiting(engine: Engine, run_id: str) -> None:
    async def waiting() -> bool:
        return (await engine.runs.get("default", run_id)).status == "waiting"

    await assert_eventually(waiting, timeout=15)


async def test_a_runner_cancels_a_run_and_a_viewer_is_refused(
    registered: Engine, browser: BrowserFactory
) -> None:
    await registered.start_worker()
    handle = await registered.start("patient")
    await _waiting(registered, handle.id)
    viewer = await browser("default", "viewer")
    page = await viewer.get(f"/runs/{handle.id}")
    assert "Cancel the run" not in page.text  # no button a viewer may not press
    refused = await viewer.post(f"/runs/{handle.id}/cancel", {"reason": "no"})
    assert refused.status_code == 403
    assert (await registered.runs.get("default", handle.id)).status == "waiting"
    runner = await browser("default", "runner")
    await runner.get(f"/runs/{handle.id}")
    forged = await runner.client.post(f"/runs/{handle.id}/cancel", data={"csrf": "forged"})
    assert forged.status_code == 403
    assert (await registered.runs.get("default", handle.id)).status == "waiting"
    done = await runner.post(f"/runs/{handle.id}/cancel", {"reason": "not needed"},
                             follow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    assert done.headers["location"] == f"/runs/{handle.id}?done=cancelled"
    shown = await runner.get(done.headers["location"])
    assert "The run was cancelled" in shown.text and "not needed" in _text(shown.text)
    run = await registered.runs.get("default", handle.id)
    assert run.status == "cancelled" and run.history[0].reason == "not needed"
    assert 'id="audit-h"' not in shown.text  # the audit is the admins'
    admin = await browser("default", "admin")
    audited = _text((await admin.get(f"/runs/{handle.id}")).text)
    assert "Audit" in audited and "cancel" in audited and "console" in audited


async def test_retry_and_fork_make_new_runs_and_resume_reruns_a_failed_one(
    registered: Engine, browser: BrowserFactory
) -> None:
    run_id = await _run(registered, "greet", "ada")
    viewer = await browser("default", "viewer")
    for verb in ("retry", "fork", "resume"):
        refused = await viewer.post(f"/runs/{run_id}/{verb}", {"step": "shout"})
        assert refused.status_code == 403, verb
    assert (await registered.runs.get("default", run_id)).history == []
    runner = await browser("default", "runner")
    page = await runner.get(f"/runs/{run_id}")
    assert '<option value="shout">' in page.text
    retried = await runner.post(f"/runs/{run_id}/retry", {"reason": "again"},
                                follow_redirects=False)  # fmt: skip
    assert retried.status_code == 303
    new_id_ = retried.headers["location"].split("/runs/")[1].split("?")[0]
    assert new_id_ != run_id and retried.headers["location"].endswith("?done=retried")
    assert (await registered.runs.get("default", new_id_)).workflow == "greet"
    forked = await runner.post(f"/runs/{run_id}/fork", {"step": "shout"},
                               follow_redirects=False)  # fmt: skip
    assert forked.status_code == 303 and forked.headers["location"].endswith("?done=forked")
    fork_id = forked.headers["location"].split("/runs/")[1].split("?")[0]
    fork_page = await runner.get(forked.headers["location"])
    assert "This run is a fork" in fork_page.text
    assert (await registered.runs.get("default", fork_id)).history[0].action == "forked-from"
    history = await runner.get(f"/runs/{run_id}")
    assert "retry" in _text(history.text) and "fork" in _text(history.text)

    conflict = await runner.post(f"/runs/{run_id}/resume", {})  # only a failed run resumes
    assert conflict.status_code == 409 and "resume" in _text(conflict.text)
    assert [h.action for h in (await registered.runs.get("default", run_id)).history] == [
        "retry", "fork",
    ]  # fmt: skip

    failed_id = await _run(registered, "broken", fails=True)
    resumed = await runner.post(f"/runs/{failed_id}/resume", {}, follow_redirects=False)
    assert resumed.status_code == 303
    assert resumed.headers["location"] == f"/runs/{failed_id}?done=resumed"
    assert (await registered.runs.get("default", failed_id)).history[0].action == "resume"


async def test_the_rest_api_pages_a_runs_steps_as_the_page_does(
    registered: Engine, app: FastAPI
) -> None:
    run_id = await _many_steps(registered, 250)
    key = (await registered.keys.create("default", "viewer")).key
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://plait.test",
                                 headers={"Authorization": f"Bearer {key}"}) as client:  # fmt: skip
        first = (await client.get(f"/~default/runs/{run_id}/steps?limit=100")).json()
        assert [s["key"] for s in first["items"][:2]] == ["step", "step#1"]
        assert (first["total"], first["previousStart"], first["nextStart"]) == (250, None, 100)
        assert first["lastStart"] == 150
        last = (await client.get(f"/~default/runs/{run_id}/steps?start=200&limit=100")).json()
        assert len(last["items"]) == 50 and last["nextStart"] is None
        assert last["previousStart"] == 100 and last["items"][-1]["output"] == {"n": 249}
        one = await client.get(f"/~default/runs/{run_id}/steps/step%2310")
        assert one.status_code == 200 and one.json()["output"] == {"n": 10}
        missing = await client.get(f"/~default/runs/{run_id}/steps/nope")
        assert missing.status_code == 404
        other = await client.get("/~default/runs/run_nope/steps")
        assert other.status_code == 404


async def test_a_definitions_run_shows_its_planned_progress_in_its_organization(
    engine: Engine, browser: BrowserFactory
) -> None:
    log = {"action": "log", "mapping": {"message": "'hi'"}}
    workflow = await engine.workflows.create("acme", {"name": "twice", "steps": [log, log]})
    await engine.start_worker()
    run = await engine.workflows.trigger("acme", workflow.id, {"who": "ada"})
    await engine.runs.handle("acme", run.id).result(timeout=30)
    person = await browser("acme", "viewer")
    page = await person.get(f"/runs/{run.id}")
    text = _text(page.text)
    assert page.status_code == 200 and "twice" in text
    assert f'href="/workflows/{workflow.id}"' in page.text
    assert "2 of 2 done" in " ".join(text.split())
    assert '"who": "ada"' in text
    assert page.text.count('<g class="attempt">') == 2
