"""``/~{org}/tasks``: inboxes, one task, completing a task, with auth and the refusals that
change nothing."""

from __future__ import annotations

from typing import Any

import httpx

from plait import Engine
from plait.testing import assert_eventually
from tests.api.conftest import Keys, bearer

SIGN_OFF: dict[str, Any] = {
    "name": "sign-off",
    "steps": [
        {"id": "sign", "type": "human-task", "title": "{{ 'Sign off ' + input.doc }}",
         "assignTo": "input.owner", "choices": ["approve", "reject"], "timeout": "2d"},
        {"id": "done", "type": "function", "function": "log", "dependsOn": ["sign"],
         "input": {"message": "{{ sign.decision }}"}},
    ],
}  # fmt: skip


async def start_sign_off(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str], owner: str
) -> tuple[str, dict[str, Any]]:
    """Trigger a run of sign-off for ``owner``; return its id and its open task."""
    workflow = (await client.post("/~acme/workflows", headers=admin, json=SIGN_OFF)).json()
    if "$id" not in workflow:  # created by an earlier call of this test
        listed = await client.get("/~acme/workflows", headers=admin)
        workflow = next(w for w in listed.json()["items"] if w["name"] == "sign-off")
    await client.post(f"/~acme/workflows/{workflow['$id']}/activate", headers=admin)
    run = await client.post(f"/~acme/workflows/{workflow['$id']}/trigger", headers=admin,
                            json={"input": {"doc": "Q3 report", "owner": owner}})  # fmt: skip
    await engine.start_worker()
    found: list[dict[str, Any]] = []

    async def has_task() -> bool:
        page = await client.get("/~acme/tasks", headers=admin,
                                params={"assignee": owner, "status": "open"})  # fmt: skip
        found[:] = page.json()["items"]
        return len(found) == 1

    await assert_eventually(has_task)
    return run.json()["$id"], found[0]


async def state(client: httpx.AsyncClient, admin: dict[str, str], task: str, run: str) -> Any:
    got_task = (await client.get(f"/~acme/tasks/{task}", headers=admin)).json()
    got_run = (await client.get(f"/~acme/runs/{run}", headers=admin)).json()
    return got_task, got_run


async def test_list_get_and_complete_a_task(
    client: httpx.AsyncClient, engine: Engine, keys: Keys, admin: dict[str, str]
) -> None:
    run_id, task = await start_sign_off(client, engine, admin, "ann")
    assert task["$type"] == "HumanTask" and task["title"] == "Sign off Q3 report"
    assert task["assignee"] == "ann" and task["runId"] == run_id and task["stepKey"] == "sign"
    viewer = bearer(keys["acme"]["viewer"])
    got = await client.get(f"/~acme/tasks/{task['$id']}", headers=viewer)
    assert got.status_code == 200 and got.json() == task
    other_org = bearer(keys["globex"]["admin"])
    assert (await client.get(f"/~globex/tasks/{task['$id']}", headers=other_org)).status_code == 404
    assert (await client.get("/~acme/tasks", headers={})).status_code == 401

    runner = bearer(keys["acme"]["runner"])
    answer = {"decision": "approve", "comment": "ok", "by": "ann"}
    done = await client.post(f"/~acme/tasks/{task['$id']}/complete", headers=runner, json=answer)
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["status"] == "completed" and body["completedBy"] == "ann"
    assert body["decision"] == "approve" and body["comment"] == "ok"

    async def finished() -> bool:
        run = (await client.get(f"/~acme/runs/{run_id}", headers=admin)).json()
        return bool(run["status"] == "succeeded")

    await assert_eventually(finished)
    run = (await client.get(f"/~acme/runs/{run_id}", headers=admin)).json()
    assert run["output"]["sign"]["approved"] is True and run["output"]["done"] == "approve"
    completed = await client.get("/~acme/tasks", headers=viewer, params={"status": "completed"})
    assert [t["$id"] for t in completed.json()["items"]] == [task["$id"]]
    bad = await client.get("/~acme/tasks", headers=viewer, params={"status": "done"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "$.query.status"


async def test_a_decision_in_the_other_tense_is_the_offered_choice(
    client: httpx.AsyncClient, engine: Engine, keys: Keys, admin: dict[str, str]
) -> None:
    """The brief writes ``decision === 'approved'`` (003) and ``'reject'`` (002): either tense
    of an offered choice is that choice, recorded as offered."""
    run_id, task = await start_sign_off(client, engine, admin, "ann")
    runner = bearer(keys["acme"]["runner"])
    answer = {"decision": "approved", "by": "ann"}
    done = await client.post(f"/~acme/tasks/{task['$id']}/complete", headers=runner, json=answer)
    assert done.status_code == 200, done.text
    assert done.json()["decision"] == "approve"

    async def finished() -> bool:
        run = (await client.get(f"/~acme/runs/{run_id}", headers=admin)).json()
        return bool(run["status"] == "succeeded")

    await assert_eventually(finished)
    run = (await client.get(f"/~acme/runs/{run_id}", headers=admin)).json()
    assert run["output"]["sign"]["approved"] is True and run["output"]["done"] == "approve"


def test_offered_choice_maps_tenses_and_nothing_else() -> None:
    from plait.service.tasks import offered_choice

    assert offered_choice("rejected", ["approve", "reject"]) == "reject"
    assert offered_choice("approve", ["approved", "rejected"]) == "approved"
    assert offered_choice("Approved", ["approve"]) == "approve"
    assert offered_choice("approver", ["approve"]) is None
    assert offered_choice("maybe", ["approve", "reject"]) is None
    review = ["retry", "skip", "fail"]  # a review task's choices, in the past tense
    assert [offered_choice(said, review) for said in ("retried", "skipped", "failed")] == review
    assert offered_choice("submitted", ["submit"]) == "submit"
    assert offered_choice("cancelled", ["cancel"]) == offered_choice("canceled", ["cancel"])
    assert offered_choice("retry", ["retried"]) == "retried"
    assert offered_choice("retryed", ["retry"]) == "retry"  # the plain +ed spelling too
    assert offered_choice("skiped", ["skip"]) == "skip"


async def test_refused_completions_are_clear_and_change_nothing(
    client: httpx.AsyncClient, engine: Engine, keys: Keys, admin: dict[str, str]
) -> None:
    run_id, task = await start_sign_off(client, engine, admin, "ann")
    url = f"/~acme/tasks/{task['$id']}/complete"
    runner = bearer(keys["acme"]["runner"])
    before = await state(client, admin, task["$id"], run_id)

    viewer = await client.post(url, headers=bearer(keys["acme"]["viewer"]),
                               json={"decision": "approve", "by": "ann"})  # fmt: skip
    assert viewer.status_code == 403 and "runner role" in viewer.json()["detail"]

    someone_else = await client.post(url, headers=runner, json={"decision": "approve", "by": "bob"})
    assert someone_else.status_code == 403
    assert someone_else.json()["type"] == "urn:plait:problem:task-forbidden"
    assert "assigned to 'ann'" in someone_else.json()["detail"]

    no_by = await client.post(url, headers=runner, json={"decision": "approve"})
    assert no_by.status_code == 403  # the key itself is not ann

    not_offered = await client.post(url, headers=runner, json={"decision": "maybe", "by": "ann"})
    assert not_offered.status_code == 422
    problem = not_offered.json()
    assert "'maybe' is not offered; choose one of 'approve', 'reject'" in problem["detail"]
    assert problem["errors"][0]["path"] == "$.body.decision"

    unknown = await client.post("/~acme/tasks/task_nothing/complete", headers=runner,
                                json={"decision": "approve", "by": "ann"})  # fmt: skip
    assert unknown.status_code == 404
    assert await state(client, admin, task["$id"], run_id) == before

    by_admin = await client.post(url, headers=admin, json={"decision": "reject"})
    assert by_admin.status_code == 200 and by_admin.json()["completedBy"].startswith("key:")

    async def ended() -> bool:
        run = (await client.get(f"/~acme/runs/{run_id}", headers=admin)).json()
        return bool(run["status"] == "succeeded")

    await assert_eventually(ended)
    after = await state(client, admin, task["$id"], run_id)
    again = await client.post(url, headers=admin, json={"decision": "approve", "by": "ann"})
    assert again.status_code == 409
    assert again.json()["type"] == "urn:plait:problem:task-not-open"
    assert "it is completed" in again.json()["detail"]
    assert await state(client, admin, task["$id"], run_id) == after


async def test_tasks_are_paged_with_a_cursor(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str]
) -> None:
    opened = [(await start_sign_off(client, engine, admin, f"p{n}"))[1]["$id"] for n in range(5)]
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    for _ in range(3):
        page = (await client.get("/~acme/tasks", headers=admin, params=params)).json()
        assert len(page["items"]) <= 2
        seen += [t["$id"] for t in page["items"]]
        params = {"limit": 2, "cursor": page["nextCursor"]}
    assert page["nextCursor"] is None
    assert seen == opened[::-1]  # newest first, each once
