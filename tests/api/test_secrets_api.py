"""``/~{org}/secrets`` on each backend: a stored workflow's ``http`` step sends ``secrets.TOKEN``
to a server on 127.0.0.1, and nothing plait answers, records or logs holds the value."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from plait import Engine
from plait.sealing import SECRET_KEY_ENV, generate_key
from plait.store.base import Store
from tests.api.conftest import Keys, bearer
from tests.api.test_run_operations import until
from tests.backends import select

SECRET = "tok_live_9f8e7d6c5b4a"  # what must never show outside the request it authorises


@pytest.fixture
def sealing(monkeypatch: pytest.MonkeyPatch) -> str:
    key = generate_key()
    monkeypatch.setenv(SECRET_KEY_ENV, key)
    return key


class Receiver:
    """An HTTP server on 127.0.0.1 that keeps each request's head and answers JSON echoing its
    Authorization header (so the step's output holds the secret too)."""

    def __init__(self) -> None:
        self.heads: list[str] = []
        self.port = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        length = next((int(line.split(":", 1)[1]) for line in head.split("\r\n")
                       if line.lower().startswith("content-length:")), 0)  # fmt: skip
        await reader.readexactly(length)
        self.heads.append(head)
        auth = next((line.split(":", 1)[1].strip() for line in head.split("\r\n")
                     if line.lower().startswith("authorization:")), "")  # fmt: skip
        body = orjson.dumps({"echo": auth})
        status = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n"
        writer.write(status + b"content-length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    server = await asyncio.start_server(found.serve, "127.0.0.1", 0)
    found.port = server.sockets[0].getsockname()[1]
    try:
        yield found
    finally:
        server.close()
        await server.wait_closed()


def calling(port: int) -> dict[str, Any]:
    """A workflow whose steps send the secret, echo it back, log it and emit it."""
    return {
        "name": "call-api", "dialect": "canonical", "trigger": {"events": ["Api.called"]},
        "steps": [
            {"kind": "action", "id": "call", "action": "http", "input": {
                "method": "POST", "url": f"http://127.0.0.1:{port}/hook",
                "headers": {"Authorization": "Bearer {{secrets.TOKEN}}"},
                "json": {"token": "{{secrets.TOKEN}}"}}},
            {"kind": "action", "id": "say", "action": "log", "depends_on": ["call"],
             "input": {"message": "sent {{secrets.TOKEN}}"}},
            {"kind": "action", "id": "tell", "action": "emit", "depends_on": ["say"],
             "input": {"type": "Api.sent", "data": {"auth": "{{call.body.echo}}"}}},
        ],
    }  # fmt: skip


async def test_a_workflow_sends_a_secret_that_nothing_records(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str], receiver: Receiver,
    sealing: str, caplog: pytest.LogCaptureFixture, tmp_path: Path,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    made = await client.post("/~acme/secrets", headers=admin,
                             json={"name": "TOKEN", "value": SECRET})  # fmt: skip
    assert made.status_code == 201, made.text
    assert set(made.json()) == {"name", "createdAt", "updatedAt"}
    await engine.start_worker()  # the app under test serves the API only
    workflow = (await client.post("/~acme/workflows", headers=admin,
                                  json=calling(receiver.port))).json()  # fmt: skip
    assert "$id" in workflow, workflow
    await client.post(f"/~acme/workflows/{workflow['$id']}/activate", headers=admin)
    run = (await client.post(f"/~acme/workflows/{workflow['$id']}/trigger", headers=admin,
                             json={"input": {}})).json()  # fmt: skip
    done = await until(client, admin, run["$id"], "succeeded")

    [head] = receiver.heads
    assert f"Authorization: Bearer {SECRET}".lower() in head.lower()
    steps = {s["key"]: s for s in done["steps"]}
    assert steps["call"]["output"]["body"] == {"echo": "Bearer [secret:TOKEN]"}
    assert steps["say"]["output"] == "sent [secret:TOKEN]"
    answers = [orjson.dumps(done).decode()]
    for path in ("/~acme/runs", "/~acme/events", "/~acme/secrets", "/~acme/secrets/TOKEN",
                 f"/~acme/workflows/{workflow['$id']}"):  # fmt: skip
        got = await client.get(path, headers=admin)
        assert got.status_code == 200, got.text
        answers.append(got.text)
    assert "[secret:TOKEN]" in answers[2]  # the emitted event's data
    assert not [a for a in answers if SECRET in a]
    logged = [f"{r.getMessage()} {r.__dict__}" for r in caplog.records]
    assert any("sent [secret:TOKEN]" in line for line in logged)
    assert not [line for line in logged if SECRET in line]
    await engine.close()  # everything written and checkpointed
    assert not await stored_anywhere(engine, tmp_path, SECRET)


def in_files(folder: Path, prefix: str, text: str) -> list[str]:
    """The files of ``folder`` named ``prefix*`` (a database, its WAL) that hold ``text``."""
    files = [p for p in folder.iterdir() if p.name.startswith(prefix)]
    assert files
    return [p.name for p in files if text.encode() in p.read_bytes()]


async def stored_anywhere(engine: Engine, tmp_path: Path, text: str) -> list[str]:
    """Where ``text`` occurs in the database: SQLite files (WAL included), or PostgreSQL rows."""
    if engine.settings.database_url.startswith("sqlite"):
        return in_files(tmp_path, "api.db", text)
    store: Store = await engine.deps.store()
    try:
        tables = await select(store, "SELECT table_name FROM information_schema.tables "
                                     "WHERE table_schema = current_schema()")  # fmt: skip
        found = []
        for (table,) in tables:
            rows = await select(store, f"SELECT t::text FROM {table} t")
            found += [table for (row,) in rows if text in row]
        return found
    finally:
        await engine.close()


async def test_storing_a_secret_without_the_key_is_refused_naming_it(
    client: httpx.AsyncClient, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SECRET_KEY_ENV, raising=False)
    refused = await client.post("/~acme/secrets", headers=admin,
                                json={"name": "TOKEN", "value": SECRET})  # fmt: skip
    assert refused.status_code == 409
    assert SECRET_KEY_ENV in refused.json()["detail"]
    assert SECRET not in refused.text
    assert (await client.get("/~acme/secrets", headers=admin)).json()["items"] == []


async def test_set_replace_get_and_delete_show_no_value(
    client: httpx.AsyncClient, admin: dict[str, str], sealing: str
) -> None:
    first = await client.post("/~acme/secrets", headers=admin, json={"name": "A", "value": "1x"})
    again = await client.post("/~acme/secrets", headers=admin, json={"name": "A", "value": "2y"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["createdAt"] == first.json()["createdAt"]
    await client.post("/~acme/secrets", headers=admin, json={"name": "B_2", "value": "3z"})
    listed = (await client.get("/~acme/secrets", headers=admin)).json()
    assert [s["name"] for s in listed["items"]] == ["A", "B_2"]
    assert "2y" not in orjson.dumps(listed).decode()
    shown = await client.get("/~acme/secrets/A", headers=admin)
    assert shown.json() == again.json()
    assert (await client.delete("/~acme/secrets/A", headers=admin)).status_code == 204
    assert (await client.get("/~acme/secrets/A", headers=admin)).status_code == 404
    assert (await client.delete("/~acme/secrets/A", headers=admin)).status_code == 404


@pytest.mark.parametrize(
    ("body", "path", "words"),
    [
        ({"name": "has space", "value": "v"}, "$.body.name", "is not a name"),
        ({"name": "1ST", "value": "v"}, "$.body.name", "is not a name"),
        ({"name": "N" * 201, "value": "v"}, "$.body.name", "max_name_length"),
        ({"name": "EMPTY", "value": ""}, "$.body.value", "cannot be empty"),
    ],
)
async def test_bad_names_and_values_are_refused_with_their_path(
    client: httpx.AsyncClient, admin: dict[str, str], sealing: str, body: dict[str, str],
    path: str, words: str,
) -> None:  # fmt: skip
    refused = await client.post("/~acme/secrets", headers=admin, json=body)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert words in problem["detail"]
    assert [e["path"] for e in problem["errors"]] == [path]


async def test_writing_needs_admin_and_listing_needs_editor(
    client: httpx.AsyncClient, keys: Keys, sealing: str
) -> None:
    body = {"name": "TOKEN", "value": SECRET}
    for role in ("viewer", "runner", "editor"):
        key = bearer(keys["acme"][role])
        assert (await client.post("/~acme/secrets", headers=key, json=body)).status_code == 403
    admin = bearer(keys["acme"]["admin"])
    assert (await client.post("/~acme/secrets", headers=admin, json=body)).status_code == 201
    for role in ("viewer", "runner"):
        key = bearer(keys["acme"][role])
        assert (await client.get("/~acme/secrets", headers=key)).status_code == 403
        assert (await client.get("/~acme/secrets/TOKEN", headers=key)).status_code == 403
    editor = bearer(keys["acme"]["editor"])
    assert (await client.get("/~acme/secrets/TOKEN", headers=editor)).status_code == 200
    assert (await client.delete("/~acme/secrets/TOKEN", headers=editor)).status_code == 403
    other = bearer(keys["globex"]["admin"])
    assert (await client.get("/~acme/secrets", headers=other)).status_code == 404
    assert (await client.get("/~globex/secrets/TOKEN", headers=other)).status_code == 404


async def test_a_step_reading_an_unknown_secret_fails_naming_it(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str], receiver: Receiver,
    sealing: str,
) -> None:  # fmt: skip
    await engine.start_worker()
    workflow = (await client.post("/~acme/workflows", headers=admin,
                                  json=calling(receiver.port))).json()  # fmt: skip
    await client.post(f"/~acme/workflows/{workflow['$id']}/activate", headers=admin)
    run = (await client.post(f"/~acme/workflows/{workflow['$id']}/trigger", headers=admin,
                             json={"input": {}})).json()  # fmt: skip
    failed = await until(client, admin, run["$id"], "failed")
    assert "no secret 'TOKEN'" in failed["error"]["message"]
    assert receiver.heads == []


@pytest.mark.parametrize("name", ["a%00b", "a%C3%A9", "x" * 300, "%F0%9F%98%80"])
async def test_a_name_no_secret_can_have_is_not_found_on_every_backend(
    client: httpx.AsyncClient, admin: dict[str, str], name: str
) -> None:
    for method in ("GET", "DELETE"):
        answer = await client.request(method, f"/~acme/secrets/{name}", headers=admin)
        assert answer.status_code in (400, 404), answer.text  # 400: refused text (NUL)
