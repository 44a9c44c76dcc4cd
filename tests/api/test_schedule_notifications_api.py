"""Schedules over REST as brief 001 writes them: ``cronExpression`` and ``notifications``."""

from __future__ import annotations

import httpx

from tests.api.conftest import WELCOME

NOTIFY = {"onStart": ["am@example.com"], "onComplete": ["cs@example.com", "sales@example.com"]}


async def test_a_schedule_takes_the_brief_fields_and_shows_its_notifications(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    workflow = (await client.post("/~acme/workflows", headers=admin, json=WELCOME)).json()
    body = {"workflow": workflow["$id"], "cronExpression": "0 0 1 1,4,7,10 *",
            "input": {"customerSegment": "enterprise"}, "notifications": NOTIFY}  # fmt: skip
    created = await client.post("/~acme/schedules", headers=admin, json=body)
    assert created.status_code == 201, created.text
    schedule = created.json()
    assert schedule["cron"] == "0 0 1 1,4,7,10 *" and schedule["notifications"] == NOTIFY
    assert schedule["nextFireAt"].endswith("-01T00:00:00.000Z")
    listed = (await client.get("/~acme/schedules", headers=admin)).json()["items"]
    assert listed == [schedule]
    plain = await client.post("/~acme/schedules", headers=admin,
                              json={"workflow": workflow["$id"], "cron": "@daily"})  # fmt: skip
    assert plain.json()["notifications"] == {"onStart": [], "onComplete": []}


async def test_bad_notifications_and_expressions_are_422_at_their_path(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    workflow = (await client.post("/~acme/workflows", headers=admin, json=WELCOME)).json()
    base = {"workflow": workflow["$id"], "cronExpression": "@daily"}
    cases = [
        ({**base, "notifications": {"onComplete": ["ok@example.com", "not-an-address"]}},
         "$.body.notifications.onComplete[1]", "'onComplete[1]' is not an email address"),
        ({**base, "cron": "@hourly"}, "$.body.cronExpression", "differ: give one"),
        ({"workflow": workflow["$id"]}, "$.body.cron", "cron"),
    ]  # fmt: skip
    for body, path, message in cases:
        refused = await client.post("/~acme/schedules", headers=admin, json=body)
        assert refused.status_code == 422, refused.text
        [error] = refused.json()["errors"]
        assert error["path"] == path and message in error["message"], error
    unknown = await client.post("/~acme/schedules", headers=admin,
                                json={**base, "notifications": {"onFinish": []}})  # fmt: skip
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["path"] == "$.body.notifications.onFinish"
    assert (await client.get("/~acme/schedules", headers=admin)).json()["items"] == []
