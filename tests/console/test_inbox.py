"""The inbox (``/inbox``): the signed-in person's open tasks with their context and a form made
from their choices or JSON Schema; completing one through the form resumes its run; a viewer, a
person the task is not assigned to and a form without this session's CSRF token are refused as
the REST API refuses them, and nothing changes."""

from __future__ import annotations

import re
from typing import Any

from plait import Engine
from plait.resources.tasks import Task
from plait.testing import assert_eventually
from tests.console.conftest import Browser, BrowserFactory

SIGN_OFF: dict[str, Any] = {
    "name": "sign-off",
    "steps": [
        {"id": "sign", "type": "human-task", "title": "{{ 'Sign off ' + input.doc }}",
         "assignTo": "input.owner", "choices": ["approve", "reject"], "timeout": "2d",
         "data": {"doc": "{{ input.doc }}", "amount": 1200}},
        {"id": "done", "type": "function", "function": "log", "dependsOn": ["sign"],
         "input": {"message": "{{ sign.decision }}"}},
    ],
}  # fmt: skip

SURVEY: dict[str, Any] = {
    "name": "survey",
    "steps": [
        {"id": "ask", "type": "human-task", "title": "How was it?", "assignTo": "input.owner",
         "form": {"type": "object", "required": ["score", "plan"],
                  "properties": {
                      "score": {"type": "integer", "minimum": 1, "maximum": 5,
                                "title": "Score", "description": "1 (bad) to 5 (great)"},
                      "plan": {"enum": ["basic", "pro"], "title": "Plan"},
                      "note": {"type": "string"},
                      "ratio": {"type": "number"},
                      "again": {"type": "boolean", "title": "Would buy again"}}}},
    ],
}  # fmt: skip


async def open_task(engine: Engine, document: dict[str, Any], owner: str) -> Task:
    """A run of ``document`` (a Draft: triggered by hand) for ``owner`` (acme), waiting on its
    open task."""
    listed = await engine.workflows.find("acme", where={"name": document["name"]})
    workflow = listed.items[0] if listed.items else await engine.workflows.create("acme", document)
    run = await engine.workflows.trigger("acme", workflow.id, {"doc": "Q3 report", "owner": owner})
    await engine.start_worker()
    found: list[Task] = []

    async def asked() -> bool:
        page = await engine.tasks.find("acme", status="open")
        found[:] = [t for t in page.items if t.run_id == run.id]
        return len(found) == 1 and (await engine.runs.get("acme", run.id)).status == "waiting"

    await assert_eventually(asked)
    return found[0]


async def person(browser: BrowserFactory, engine: Engine, role: str, user: str | None) -> Browser:
    key = await engine.keys.create("acme", role, user=user)
    return await browser(key=key.key)


async def succeeded(engine: Engine, run_id: str) -> None:
    async def done() -> bool:
        return (await engine.runs.get("acme", run_id)).status == "succeeded"

    await assert_eventually(done)


async def test_a_person_completes_their_task_and_the_run_resumes(
    browser: BrowserFactory, engine: Engine
) -> None:
    task = await open_task(engine, SIGN_OFF, "ann")
    ann = await person(browser, engine, "runner", "ann")
    page = await ann.get("/inbox")
    assert page.status_code == 200
    card = _card(page.text, task.id)
    assert "Sign off Q3 report" in card and "sign-off" in card
    assert f'href="/runs/{task.run_id}"' in card and "<time" in card  # its due time
    assert "&#34;amount&#34;: 1200" in card  # the data shown to the approver
    assert re.search(r'<button type="submit" name="decision" value="approve"', card)
    assert re.search(r'<button type="submit" name="decision" value="reject"', card)

    done = await ann.post(f"/inbox/{task.id}/complete", {"decision": "approve",
                                                         "comment": "fine"})  # fmt: skip
    assert done.status_code == 200 and str(done.url).endswith(f"/inbox?done={task.id}")
    assert "Completed “Sign off Q3 report” (approve)" in done.text
    assert f'href="/runs/{task.run_id}"' in done.text
    assert "Nothing waiting for you" in done.text
    await succeeded(engine, task.run_id)
    stored = await engine.tasks.get("acme", task.id)
    assert (stored.completed_by, stored.decision, stored.comment) == ("ann", "approve", "fine")


async def test_a_json_schema_form_is_typed_checked_and_completes(
    browser: BrowserFactory, engine: Engine
) -> None:
    task = await open_task(engine, SURVEY, "ann")
    ann = await person(browser, engine, "runner", "ann")
    card = _card((await ann.get("/inbox")).text, task.id)
    fid = f"f-{task.id}"
    assert re.search(rf'<label for="{fid}-score">Score <span class="required"', card)
    assert re.search(rf'<input type="number" id="{fid}-score" name="data.score" value="" '
                     r'step="1"', card)  # fmt: skip
    assert f'<select id="{fid}-plan" name="data.plan" required>' in card
    assert '<option value="pro">pro</option>' in card
    assert f'<input type="checkbox" id="{fid}-again" name="data.again" value="true">' in card
    assert f'<label for="{fid}-again">Would buy again</label>' in card
    assert re.search(rf'<input type="number" id="{fid}-ratio" name="data.ratio" value="" '
                     r'step="any"', card)  # fmt: skip
    assert "1 (bad) to 5 (great)" in card and ">Submit</button>" in card

    url = f"/inbox/{task.id}/complete"
    typo = await ann.post(url, {"data.score": "four", "data.plan": "pro"})
    assert typo.status_code == 422 and "Score: &#39;four&#39; is not a whole number" in typo.text
    assert 'value="four"' in typo.text  # what was typed is kept
    too_big = await ann.post(url, {"data.score": "9", "data.plan": "pro"})
    assert too_big.status_code == 422
    assert "the data does not match the task&#39;s form" in too_big.text
    assert (await engine.tasks.get("acme", task.id)).status == "open"

    done = await ann.post(url, {"data.score": "4", "data.plan": "pro", "data.ratio": "0.5",
                                "data.again": "true", "data.note": " "})  # fmt: skip
    assert done.status_code == 200, done.text
    await succeeded(engine, task.run_id)
    stored = await engine.tasks.get("acme", task.id)
    answer = {"score": 4, "plan": "pro", "ratio": 0.5, "again": True}  # the blank note left out
    assert (stored.response, stored.decision, stored.completed_by) == (answer, "submitted", "ann")


async def test_a_viewer_a_wrong_person_and_a_forged_form_are_refused(
    browser: BrowserFactory, engine: Engine
) -> None:
    task = await open_task(engine, SIGN_OFF, "ann")
    url = f"/inbox/{task.id}/complete"
    viewer = await person(browser, engine, "viewer", "ann")
    seen = _card((await viewer.get("/inbox")).text, task.id)
    assert "<button" not in seen and "completing a task needs a runner key" in seen
    as_viewer = await viewer.post(url, {"decision": "approve"})
    assert as_viewer.status_code == 403 and "needs the runner role" in as_viewer.text

    bob = await person(browser, engine, "editor", "bob")
    assert "Nothing waiting for you" in (await bob.get("/inbox")).text
    as_bob = await bob.post(url, {"decision": "approve"})
    assert as_bob.status_code == 403
    assert (
        "it is assigned to &#39;ann&#39;; completing it as &#39;bob&#39; needs the admin role"
        in (as_bob.text)
    )

    ann = await person(browser, engine, "runner", "ann")
    await ann.get("/inbox")
    forged = await ann.client.post(url, data={"decision": "approve", "csrf": "not-the-token"})
    assert forged.status_code == 403 and "This form has expired" in forged.text
    assert (await engine.tasks.get("acme", task.id)).status == "open"
    assert (await engine.runs.get("acme", task.run_id)).status == "waiting"


async def test_an_admin_sees_everyones_tasks_and_completes_on_their_behalf(
    browser: BrowserFactory, engine: Engine
) -> None:
    task = await open_task(engine, SIGN_OFF, "ann")
    admin = await person(browser, engine, "admin", None)
    mine = await admin.get("/inbox")
    assert task.id not in mine.text and "not bound to a person" in mine.text
    everyone = await admin.get("/inbox", params={"everyone": "1"})
    assert (
        f'id="task-{task.id}"' in everyone.text and 'aria-current="true">Everyone' in everyone.text
    )
    done = await admin.post(f"/inbox/{task.id}/complete", {"decision": "reject", "everyone": "1"})
    assert done.status_code == 200 and "everyone=1" in str(done.url)
    await succeeded(engine, task.run_id)
    assert (await engine.tasks.get("acme", task.id)).decision == "reject"
    runner = await person(browser, engine, "runner", "ann")
    ignored = await runner.get("/inbox", params={"everyone": "1"})
    assert "Everyone" not in ignored.text  # only admins have the toggle


def _card(html: str, task_id: str) -> str:
    found = re.search(rf'<article [^>]*id="task-{task_id}".*?</article>', html, re.S)
    assert found is not None, html
    return found.group(0)
