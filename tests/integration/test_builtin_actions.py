"""Built-in actions called as a step calls them, on a real store of each backend.

``http`` is mocked with respx, except for one request to a real server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import orjson
import pytest
import respx

from plait.actions.base import ActionContext, ActionError, Actions, UnknownAction
from plait.actions.builtin import close_builtins, http_client, register_builtins
from plait.actions.documents import make_document_action
from plait.settings import Settings
from plait.store.base import Store
from plait.store.urls import open_store
from plait.testing import VirtualClock
from tests.backends import select

T0 = 1_800_000_000.0
API = "https://api.example.test"

MakeContext = Callable[..., ActionContext]


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    store = open_store(Settings.load(database_url=db_url))
    await store.open()
    yield store
    await store.close()


@pytest.fixture
def actions() -> Actions:
    actions = Actions()
    register_builtins(actions)
    return actions


@pytest.fixture
async def clients() -> AsyncIterator[dict[str, Any]]:
    clients: dict[str, Any] = {"http": http_client()}
    yield clients
    await close_builtins(clients)


@pytest.fixture
def ctx(store: Store, clients: dict[str, Any]) -> MakeContext:
    def make(step: str = "run_1/step", run_id: str = "run_1", org: str = "acme") -> ActionContext:
        return ActionContext(
            run_id=run_id,
            step_id=step,
            workflow="wf",
            org=org,
            store=store,
            clock=VirtualClock(start=T0),
            clients=clients,
        )

    return make


async def call(actions: Actions, name: str, value: Any, ctx: ActionContext) -> Any:
    return await actions.get(name).call(value, ctx)


async def count(store: Store, table: str) -> int:
    [(rows,)] = await select(store, f"SELECT COUNT(*) FROM {table}")
    return int(rows)


# -- http -------------------------------------------------------------------------------------


async def test_http_sends_the_request_and_parses_a_json_response(
    actions: Actions, ctx: MakeContext
) -> None:
    with respx.mock(assert_all_called=True) as router:
        route = router.post(f"{API}/deals", params={"dry": "true"}).mock(
            return_value=httpx.Response(201, json={"id": 7}, headers={"x-trace": "abc"})
        )
        result = await call(
            actions,
            "http",
            {
                "method": "post",
                "url": f"{API}/deals",
                "headers": {"authorization": "Bearer t"},
                "params": {"dry": True},
                "json": {"name": "Big"},
            },
            ctx(),
        )
    sent = route.calls.last.request
    assert orjson.loads(sent.content) == {"name": "Big"}
    assert sent.headers["authorization"] == "Bearer t"
    assert result["status"] == 201 and result["body"] == {"id": 7}
    assert result["headers"]["x-trace"] == "abc"
    assert result["headers"]["content-type"] == "application/json"


async def test_http_returns_text_bodies_as_text(actions: Actions, ctx: MakeContext) -> None:
    with respx.mock() as router:
        router.get(f"{API}/ping").mock(return_value=httpx.Response(200, text="pong"))
        result = await call(actions, "http", f"{API}/ping", ctx())
    assert (result["status"], result["body"]) == (200, "pong")


async def test_http_fails_on_a_status_outside_2xx_with_the_body(
    actions: Actions, ctx: MakeContext
) -> None:
    with respx.mock() as router:
        router.get(f"{API}/deals/9").mock(return_value=httpx.Response(404, text="x" * 500))
        with pytest.raises(ActionError) as caught:
            await call(actions, "http", {"url": f"{API}/deals/9"}, ctx())
    assert str(caught.value) == f"HTTP 404 from GET {API}/deals/9: {'x' * 200}"


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (httpx.ConnectError("connection refused"), "failed: ConnectError: connection refused"),
        (httpx.ReadTimeout("slow"), "timed out after 2s (ReadTimeout)"),
    ],
)
async def test_http_turns_transport_errors_into_action_errors(
    actions: Actions, ctx: MakeContext, error: Exception, message: str
) -> None:
    with respx.mock() as router:
        router.get(f"{API}/down").mock(side_effect=error)
        with pytest.raises(
            ActionError, match=f"^{re.escape(f'GET {API}/down {message}')}$"
        ) as caught:
            await call(actions, "http", {"url": f"{API}/down", "timeout": 2}, ctx())
    assert isinstance(caught.value.__cause__, httpx.TransportError)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"url": API, "hedaers": {}}, "unknown option"),
        ({"url": API, "method": "FETCH"}, "unknown method"),
        ({"method": "GET"}, "'url'"),
        ({"url": API, "body": {"a": 1}}, "'body' must be a string"),
        ({"url": API, "body": "a", "json": {}}, "not both"),
        ({"url": API, "timeout": 0}, "'timeout'"),
        ({"url": API, "params": {"q": {"a": 1}}}, "query parameter 'q'"),
        ({"url": "ftp://example.test/x"}, "UnsupportedProtocol"),
    ],
)
async def test_http_rejects_input_it_cannot_send(
    actions: Actions, ctx: MakeContext, value: Any, message: str
) -> None:
    with pytest.raises(ActionError, match=message):
        await call(actions, "http", value, ctx())


async def test_http_against_a_real_server(actions: Actions, ctx: MakeContext) -> None:
    requests: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            ),
            0,
        )
        requests.append(head + await reader.readexactly(length))
        body = b'{"ok": true, "echo": "' + str(length).encode() + b'"}'
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=utf-8\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
        )
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        result = await call(
            actions,
            "http",
            {"method": "PUT", "url": f"http://127.0.0.1:{port}/x", "json": {"a": 1}},
            ctx(),
        )
    finally:
        server.close()
        await server.wait_closed()
    assert result["status"] == 200 and result["body"] == {"ok": True, "echo": "7"}
    assert requests[0].startswith(b"PUT /x HTTP/1.1\r\n") and requests[0].endswith(b'{"a":1}')


async def test_the_http_client_is_made_once_per_services_and_closable(
    actions: Actions, store: Store
) -> None:
    clients: dict[str, Any] = {}
    context = ActionContext(
        "run_1", "run_1/s", "wf", "acme", store, VirtualClock(T0), clients=clients
    )
    with respx.mock() as router:
        router.get(f"{API}/a").mock(return_value=httpx.Response(204))
        result = await call(actions, "http", f"{API}/a", context)
        client = clients["http"]
        await call(actions, "http", f"{API}/a", context)
    assert result == {"status": 204, "headers": {}, "body": ""}
    assert clients["http"] is client and not client.is_closed
    await close_builtins(clients)
    assert client.is_closed and "http" not in clients


# -- emit and log -----------------------------------------------------------------------------


async def test_emit_stores_one_event_per_step_even_when_the_step_runs_again(
    actions: Actions, ctx: MakeContext, store: Store
) -> None:
    step = ctx("run_1/notify")
    first = await call(actions, "emit", {"type": "Deal.won", "data": {"n": 1}}, step)
    again = await call(actions, "emit", {"type": "Deal.won", "data": {"n": 1}}, step)
    other = await call(actions, "emit", {"type": "Deal.won"}, ctx("run_1/notify#2"))
    assert first == again and first["type"] == "Deal.won" and first["$id"].startswith("event_")
    assert other["$id"] != first["$id"]
    assert await count(store, "events") == 2
    [_, stored] = await store.list_events("acme", "Deal.won", 10)
    assert (stored.id, stored.source, stored.run_id) == (first["$id"], "action", "run_1")
    assert orjson.loads(stored.data) == {"n": 1}


async def test_emit_with_an_explicit_id_dedupes_by_it(
    actions: Actions, ctx: MakeContext, store: Store
) -> None:
    for step in ("run_1/a", "run_2/b"):
        result = await call(actions, "emit", {"type": "T", "id": "order-42"}, ctx(step))
        assert result == {"$id": "order-42", "type": "T"}
    assert await count(store, "events") == 1


async def test_emit_needs_a_type(actions: Actions, ctx: MakeContext) -> None:
    with pytest.raises(ActionError, match="'type'"):
        await call(actions, "emit", {"data": {}}, ctx())


async def test_log_logs_with_the_run_and_step(
    actions: Actions, ctx: MakeContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="plait.actions")
    assert await call(actions, "log", "hello", ctx()) == "hello"
    value = {"message": "careful", "level": "warning", "data": {"n": 1}}
    assert await call(actions, "log", value, ctx("run_1/s2")) == "careful"
    first, second = caplog.records
    assert (first.levelno, first.getMessage()) == (logging.INFO, "hello")
    assert (vars(first)["run_id"], vars(first)["step"]) == ("run_1", "run_1/step")
    assert second.levelno == logging.WARNING
    assert (vars(second)["step"], vars(second)["data"]) == ("run_1/s2", {"n": 1})
    with pytest.raises(ActionError, match="'level'"):
        await call(actions, "log", {"message": "x", "level": "loud"}, ctx())


# -- records ----------------------------------------------------------------------------------


async def test_document_actions_resolve_for_any_capitalised_noun(actions: Actions) -> None:
    assert actions.known("Deal.create") and actions.known("SupportTicket.find")
    assert not actions.known("deal.create") and not actions.known("Deal.upsert")
    with pytest.raises(UnknownAction):
        make_document_action("Deal", "upsert")


async def test_create_is_atomic_with_its_event_and_applied_once_per_step(
    actions: Actions, ctx: MakeContext, store: Store
) -> None:
    step = ctx("run_1/create-deal")
    before = store.commits
    deal = await call(actions, "Deal.create", {"name": "Big", "amount": 10}, step)
    assert store.commits - before == 1  # the document and its event: one transaction
    assert (await count(store, "documents"), await count(store, "events")) == (1, 1)
    # The step runs again (a crash came before its result was recorded): nothing new.
    assert await call(actions, "Deal.create", {"name": "Big", "amount": 10}, step) == deal
    assert (await count(store, "documents"), await count(store, "events")) == (1, 1)
    assert deal["$id"].startswith("deal_") and deal["$type"] == "Deal"
    assert deal["createdAt"] == "2027-01-15T08:00:00.000Z"
    [event] = await store.list_events("acme", "Deal.created", 10)
    assert orjson.loads(event.data) == deal and event.run_id == "run_1"
    other = await call(actions, "Deal.create", {"name": "Big"}, ctx("run_2/create-deal"))
    assert other["$id"] != deal["$id"]


async def test_update_get_and_delete(actions: Actions, ctx: MakeContext, store: Store) -> None:
    deal = await call(actions, "Deal.create", {"name": "Big", "stage": "new"}, ctx("run_1/c"))
    update = ctx("run_1/u")
    updated = await call(actions, "Deal.update", {"$id": deal["$id"], "stage": "won"}, update)
    assert (
        await call(actions, "Deal.update", {"$id": deal["$id"], "stage": "won"}, update) == updated
    )
    assert {k: updated[k] for k in ("name", "stage")} == {"name": "Big", "stage": "won"}
    by_id = await call(actions, "Deal.update", {"id": deal["$id"], "amount": 5}, ctx("run_1/u2"))
    assert by_id["amount"] == 5 and "id" not in by_id
    assert await call(actions, "Deal.get", {"$id": deal["$id"]}, ctx()) == by_id
    assert await call(actions, "Deal.get", deal["$id"], ctx()) == by_id
    deleted = await call(actions, "Deal.delete", {"$id": deal["$id"]}, ctx("run_1/d"))
    assert deleted == {"$id": deal["$id"], "deleted": True}
    assert await call(actions, "Deal.delete", deal, ctx("run_1/d2")) == {
        **deleted,
        "deleted": False,
    }
    types = [e.type for e in await store.list_events("acme", None, 10)]
    assert types == ["Deal.deleted", "Deal.updated", "Deal.updated", "Deal.created"]
    with pytest.raises(ActionError, match=rf"^no Deal with \$id '{deal['$id']}'$"):
        await call(actions, "Deal.get", {"$id": deal["$id"]}, ctx())
    with pytest.raises(ActionError, match="no Deal with"):
        await call(actions, "Deal.update", {"$id": deal["$id"], "stage": "x"}, ctx("run_1/u3"))
    with pytest.raises(ActionError, match=r"needs the document's '\$id'"):
        await call(actions, "Deal.update", {"stage": "x"}, ctx())


async def test_find_with_filters_sort_and_limit(actions: Actions, ctx: MakeContext) -> None:
    for i, (stage, amount) in enumerate([("won", 5), ("new", 9), ("won", 7), ("won", 1)]):
        data = {"name": f"d{i}", "stage": stage, "amount": amount}
        await call(actions, "Deal.create", data, ctx(f"run_1/c{i}"))
    await call(actions, "Lead.create", {"stage": "won"}, ctx("run_1/lead"))
    await call(actions, "Deal.create", {"stage": "won"}, ctx("run_9/c", org="globex"))

    async def names(value: Any) -> list[str]:
        return [d["name"] for d in await call(actions, "Deal.find", value, ctx())]

    assert await names(None) == ["d0", "d1", "d2", "d3"]
    assert await names({"stage": "won"}) == ["d0", "d2", "d3"]
    assert await names({"where": {"stage": "won"}, "sort": "-amount", "limit": 2}) == ["d2", "d0"]
    assert await names({"sort": "amount"}) == ["d3", "d0", "d2", "d1"]
    with pytest.raises(ActionError, match="'limit'"):
        await names({"limit": 0})
    with pytest.raises(ActionError, match="cannot filter on field '\\$id'"):
        await names({"$id": "deal_x"})
