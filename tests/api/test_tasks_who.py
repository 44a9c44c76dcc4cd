"""Who completes a task through the API: a key bound to a person completes as that person and
cannot pass as anyone else; an admin key may act on someone's behalf, and the task records both
the person and the key. Also: a form answer that does not fit is a 422 that changes nothing."""

from __future__ import annotations

from typing import Any

import httpx

from plait import Engine
from plait.testing import assert_eventually
from tests.api.conftest import Keys, bearer
from tests.api.test_run_operations import until
from tests.api.test_tasks import start_sign_off, state


async def bound_key(engine: Engine, role: str, user: str) -> tuple[dict[str, str], str]:
    """Headers with a new acme key of ``role`` bound to ``user``, and the key's id."""
    new = await engine.keys.create("acme", role, user=user)
    return bearer(new.key), new.id


async def test_a_bound_key_completes_its_persons_task(
    client: httpx.AsyncClient, engine: Engine, keys: Keys, admin: dict[str, str]
) -> None:
    run_id, task = await start_sign_off(client, engine, admin, "ann")
    ann, ann_key = await bound_key(engine, "runner", "ann")
    done = await client.post(f"/~acme/tasks/{task['$id']}/complete", headers=ann,
                             json={"decision": "approve"})  # fmt: skip
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["completedBy"], body["completedVia"]) == ("ann", f"key:{ann_key}")

    async def finished() -> bool:
        run = (await client.get(f"/~acme/runs/{run_id}", headers=admin)).json()
        return bool(run["status"] == "succeeded")

    await assert_eventually(finished)
    run = (await client.get(f"/~acme/runs/{run_id}", headers=admin)).json()
    assert run["output"]["sign"]["completedBy"] == "ann"
    assert run["output"]["sign"]["completedVia"] == f"key:{ann_key}"


async def test_a_bound_key_cannot_pass_as_someone_else(
    client: httpx.AsyncClient, engine: Engine, keys: Keys, admin: dict[str, str]
) -> None:
    run_id, task = await start_sign_off(client, engine, admin, "ann")
    url = f"/~acme/tasks/{task['$id']}/complete"
    await until(client, admin, run_id, "waiting")  # suspended: nothing moves until completed
    before = await state(client, admin, task["$id"], run_id)
    bob, _ = await bound_key(engine, "editor", "bob")

    as_ann = await client.post(url, headers=bob, json={"decision": "approve", "by": "ann"})
    assert as_ann.status_code == 403
    assert as_ann.json()["type"] == "urn:plait:problem:task-forbidden"
    assert (
        "the API key acts for 'bob'; completing as 'ann' needs an admin key"
        in (as_ann.json()["detail"])
    )
    as_bob = await client.post(url, headers=bob, json={"decision": "approve"})
    assert as_bob.status_code == 403 and "assigned to 'ann'" in as_bob.json()["detail"]
    assert await state(client, admin, task["$id"], run_id) == before


async def test_an_admin_completes_on_someones_behalf(
    client: httpx.AsyncClient, engine: Engine, keys: Keys, admin: dict[str, str]
) -> None:
    _, task = await start_sign_off(client, engine, admin, "ann")
    admin_id = keys["acme"]["admin"].split("_")[1]
    done = await client.post(f"/~acme/tasks/{task['$id']}/complete", headers=admin,
                             json={"decision": "reject", "by": "ann"})  # fmt: skip
    assert done.status_code == 200, done.text
    assert (done.json()["completedBy"], done.json()["completedVia"]) == ("ann", f"key:{admin_id}")
    got = (await client.get(f"/~acme/tasks/{task['$id']}", headers=admin)).json()
    assert (got["completedBy"], got["completedVia"]) == ("ann", f"key:{admin_id}")


async def test_an_unbound_runner_key_completes_for_the_assignee_and_is_recorded(
    client: httpx.AsyncClient, engine: Engine, keys: Keys, admin: dict[str, str]
) -> None:
    _, task = await start_sign_off(client, engine, admin, "ann")
    runner = keys["acme"]["runner"]
    done = await client.post(f"/~acme/tasks/{task['$id']}/complete", headers=bearer(runner),
                             json={"decision": "approve", "by": "ann"})  # fmt: skip
    assert done.status_code == 200, done.text
    assert done.json()["completedVia"] == f"key:{runner.split('_')[1]}"


async def test_keys_are_created_bound_to_a_person(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = await client.post("/~acme/keys", headers=admin,
                                json={"role": "runner", "user": "ann"})  # fmt: skip
    assert created.status_code == 201, created.text
    assert created.json()["user"] == "ann"
    listed = (await client.get("/~acme/keys", headers=admin)).json()["items"]
    assert [k["user"] for k in listed if k["$id"] == created.json()["$id"]] == ["ann"]
    blank = await client.post("/~acme/keys", headers=admin, json={"role": "runner", "user": " a"})
    assert blank.status_code == 422


FORM_TASK: dict[str, Any] = {
    "name": "survey",
    "steps": [
        {"id": "ask", "type": "human-task", "title": "How was it?", "assignTo": "input.owner",
         "form": {"type": "object", "required": ["score"],
                  "properties": {"score": {"type": "integer", "minimum": 1, "maximum": 5}}}},
    ],
}  # fmt: skip


async def test_a_form_answer_that_does_not_fit_is_a_422_and_changes_nothing(
    client: httpx.AsyncClient, engine: Engine, keys: Keys, admin: dict[str, str]
) -> None:
    workflow = (await client.post("/~acme/workflows", headers=admin, json=FORM_TASK)).json()
    await client.post(f"/~acme/workflows/{workflow['$id']}/activate", headers=admin)
    run = await client.post(f"/~acme/workflows/{workflow['$id']}/trigger", headers=admin,
                            json={"input": {"owner": "ann"}})  # fmt: skip
    run_id = run.json()["$id"]
    await engine.start_worker()
    found: list[dict[str, Any]] = []

    async def has_task() -> bool:
        page = await client.get("/~acme/tasks", headers=admin, params={"assignee": "ann"})
        found[:] = page.json()["items"]
        return len(found) == 1

    await assert_eventually(has_task)
    task = found[0]
    url = f"/~acme/tasks/{task['$id']}/complete"
    await until(client, admin, run_id, "waiting")
    before = await state(client, admin, task["$id"], run_id)
    ann, _ = await bound_key(engine, "runner", "ann")
    bad = await client.post(url, headers=ann, json={"data": {"score": 9}})
    assert bad.status_code == 422
    problem = bad.json()
    assert "the data does not match the task's form" in problem["detail"]
    assert "9 is greater than the maximum of 5" in problem["detail"]
    assert problem["errors"][0]["path"] == "$.body.data['score']"
    missing = await client.post(url, headers=ann, json={"data": {}})
    assert (
        missing.status_code == 422
        and "'score' is a required property" in (missing.json()["detail"])
    )
    assert await state(client, admin, task["$id"], run_id) == before
    good = await client.post(url, headers=ann, json={"data": {"score": 4}})
    assert good.status_code == 200 and good.json()["response"] == {"score": 4}
    assert good.json()["decision"] == "submitted"
