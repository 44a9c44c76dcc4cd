"""Live streams over real HTTP: a uvicorn server on 127.0.0.1 (in the test's loop, with its
worker) and httpx streaming, on each backend. Runs are driven step by step with signals, so
that transitions happen between two connections of a client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from plait import Context, Engine
from plait.api import create_app
from plait.api.routes.streams import EventStream
from plait.testing import assert_eventually
from tests.api.conftest import bearer, free_port
from tests.api.sse import Message, messages
from tests.backends import BACKENDS, database_url

pytestmark = pytest.mark.timeout(60)

LIMIT = 3  # streams per key in these tests


@dataclass
class Served:
    engine: Engine
    base: str
    viewer: str
    runner: str
    other_viewer: str
    globex: str

    def client(self, key: str | None = None) -> httpx.AsyncClient:
        headers = bearer(key or self.viewer)
        return httpx.AsyncClient(base_url=self.base, headers=headers, timeout=10.0)


def register(engine: Engine) -> None:
    @engine.workflow("stepper")
    async def stepper(ctx: Context, n: int) -> int:
        total = 0
        for i in range(n):
            total += await ctx.step("add", lambda i=i: i + 1)
            ctx.progress(i + 1, n, message=f"{i + 1} of {n}")
            await ctx.receive("go")
        return total

    @engine.workflow("quick")
    async def quick(ctx: Context) -> str:
        said: str = await ctx.step("hello", lambda: "hi")
        return said


@pytest.fixture(params=BACKENDS)
async def served(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Served]:
    with database_url(request.param, tmp_path) as url:
        engine = Engine(url, stream_max_per_key=LIMIT, stream_heartbeat_seconds=0.2,
                        stream_queue=2)  # fmt: skip
        register(engine)
        port = free_port()
        config = uvicorn.Config(create_app(engine, worker=True), host="127.0.0.1", port=port,
                                log_config=None, timeout_graceful_shutdown=5)  # fmt: skip
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        try:
            await assert_eventually(_started(server, serving))
            keys = [(await engine.keys.create(org, role)).key for org, role in
                    (("default", "viewer"), ("default", "runner"), ("default", "viewer"),
                     ("globex", "admin"))]  # fmt: skip
            yield Served(engine, f"http://127.0.0.1:{port}", *keys)
        finally:
            engine.streams.close()  # as plait serve does before its graceful stop
            server.should_exit = True
            await asyncio.wait_for(serving, 10)


def _started(server: uvicorn.Server, serving: asyncio.Task[None]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        if serving.done():
            serving.result()
        return server.started

    return check


async def read_until(
    response: httpx.Response,
    stop: Callable[[Message], bool],
    on: Callable[[Message], Any] | None = None,
) -> list[Message]:
    """The messages of ``response`` (comments left out) up to the first that ``stop`` accepts."""
    got: list[Message] = []
    async for message in messages(response):
        if message.event == "comment":
            continue
        got.append(message)
        if on is not None:
            await on(message)
        if stop(message):
            return got
    raise AssertionError(f"the stream ended after {[m.brief() for m in got]}")


def waiting(message: Message) -> bool:
    return message.event == "run" and message.data["status"] == "waiting"


def ended(message: Message) -> bool:
    return message.event == "end"


async def signal(served: Served, run_id: str) -> None:
    async with served.client(served.runner) as api:
        answer = await api.post(f"/~default/runs/{run_id}/signals/go", json=1)
        assert answer.status_code == 202, answer.text


EVERY = [
    ("run", "running"), ("step", "add", "completed"), ("step", "progress", "completed"),
    ("progress", "1/2"), ("step", "receive:go", "waiting"), ("run", "waiting"),
    ("step", "receive:go", "completed"), ("run", "pending"), ("run", "running"),
    ("step", "add#2", "completed"), ("step", "progress#2", "completed"), ("progress", "2/2"),
    ("step", "receive:go#2", "waiting"), ("run", "waiting"),
    ("step", "receive:go#2", "completed"), ("run", "pending"), ("run", "running"),
    ("run", "succeeded"), ("end",),
]  # fmt: skip


async def start_stepper(served: Served) -> str:
    handle = await served.engine.start("stepper", 2)
    return handle.id


async def test_a_run_stream_sends_every_transition_in_order_then_ends(served: Served) -> None:
    run_id = await start_stepper(served)
    async with served.client() as api, api.stream("GET", f"/~default/runs/{run_id}/stream") as s:
        assert s.status_code == 200
        assert s.headers["content-type"].startswith("text/event-stream")
        assert s.headers["cache-control"] == "no-cache"

        async def drive(message: Message) -> None:
            if waiting(message):
                await signal(served, run_id)

        got = await read_until(s, ended, drive)
    assert [m.brief() for m in got] == EVERY
    ids = [m.id for m in got[:-1]]
    assert ids == sorted(ids, key=lambda i: tuple(map(int, (i or "").split(".")))) and all(ids)
    assert len(set(ids)) == len(ids)
    last = got[-2].data
    assert last["$type"] == "RunChange" and last["outcome"] == "succeeded"
    assert last["runId"] == run_id and last["workflow"] == "stepper"
    progress = got[3].data
    assert progress == {"$type": "ProgressChange", "runId": run_id, "progress": {
        "completedSteps": 1, "totalSteps": 2, "fraction": 0.5, "currentStep": None,
        "message": "1 of 2", "estimatedTimeRemaining": None}}  # fmt: skip
    assert got[-1].data == {"reason": "The run ended.", "lastEventId": got[-2].id}


async def test_a_client_that_resumes_with_last_event_id_misses_nothing_and_repeats_nothing(
    served: Served,
) -> None:
    run_id = await start_stepper(served)
    path = f"/~default/runs/{run_id}/stream"
    async with served.client() as api:
        async with api.stream("GET", path) as s:
            first = await read_until(s, waiting)
        await signal(served, run_id)  # the run moves while no one listens
        await wait_for_steps(served, run_id, "receive:go#2", "waiting")
        headers = {"Last-Event-ID": str(first[-1].id)}
        async with api.stream("GET", path, headers=headers) as s:
            second = await read_until(s, waiting)
        await signal(served, run_id)
        await served.engine.handle(run_id).result(timeout=10)
        params = {"lastEventId": str(second[-1].id)}  # for clients that cannot set headers
        async with api.stream("GET", path, params=params) as s:
            third = await read_until(s, ended)
        async with api.stream("GET", path) as s:  # from the start: the whole run
            whole = await read_until(s, ended)
        again = await api.get(path, headers={"Last-Event-ID": str(whole[-2].id)})
    resumed = first + second + third
    assert [(m.id, m.brief()) for m in resumed] == [(m.id, m.brief()) for m in whole]
    assert [m.brief() for m in whole] == EVERY
    assert again.status_code == 204  # ended, nothing after: an EventSource stops reconnecting


async def wait_for_steps(served: Served, run_id: str, key: str, status: str) -> None:
    async def there() -> bool:
        run = await served.engine.runs.get("default", run_id)
        return any(s.key == key and s.status == status for s in run.steps) and (
            run.status == "waiting"
        )

    await assert_eventually(there)


async def test_the_organization_stream_filters_by_types(served: Served) -> None:
    async with served.client() as api, contextlib.AsyncExitStack() as stack:
        opened = {}
        for name, types in (("all", None), ("runs", "run"), ("go", "Go.*,Deal.won")):
            params = {} if types is None else {"types": types}
            opened[name] = await stack.enter_async_context(
                api.stream("GET", "/~default/stream", params=params)
            )
        async with served.client(served.runner) as runner:
            for kind in ("Go.now", "Other.thing", "Deal.won"):
                body = {"type": kind, "data": {"k": 1}}
                emitted = await runner.post("/~default/events", json=body)
                assert emitted.status_code == 202, emitted.text
            started = await runner.post("/~globex/events", json={"type": "Go.now", "data": {}},
                                        headers=bearer(served.globex))  # fmt: skip
            assert started.status_code == 202  # another organization's: in no stream of default
        quick = await served.engine.start("quick")
        await quick.result(timeout=10)
        async with served.client(served.runner) as runner:
            await runner.post("/~default/events", json={"type": "Go.done", "data": None})

        def done(m: Message) -> bool:
            return m.event == "event" and m.data["type"] == "Go.done"

        every = await read_until(opened["all"], done)
        runs = await read_until(opened["runs"], lambda m: m.data["status"] == "succeeded")
        go = await read_until(opened["go"], done)
    assert [m.brief() for m in go] == [("event", "Go.now"), ("event", "Deal.won"),
                                       ("event", "Go.done")]  # fmt: skip
    assert go[0].data["data"] == {"k": 1} and go[0].data["$type"] == "Event"
    assert [m.brief() for m in runs] == [("run", "running"), ("run", "succeeded")]
    assert {m.data["runId"] for m in runs} == {quick.id}
    assert [m.brief() for m in every] == [
        ("event", "Go.now"), ("event", "Other.thing"), ("event", "Deal.won"),
        ("run", "running"), ("run", "succeeded"), ("event", "Go.done"),
    ]  # fmt: skip
    ids = [int(m.id or 0) for m in every]
    assert ids == sorted(ids)


async def test_the_organization_stream_resumes_after_its_cursor(served: Served) -> None:
    async with served.client(served.runner) as runner:
        for n in range(4):
            await runner.post("/~default/events", json={"type": f"Step.n{n}", "data": n})
        async with runner.stream("GET", "/~default/stream", params={"lastEventId": "0"}) as s:
            got = await read_until(s, lambda m: m.data["type"] == "Step.n3")
        cursor = str(got[1].id)
        async with runner.stream("GET", "/~default/stream", headers={"Last-Event-ID": cursor}) as s:
            after = await read_until(s, lambda m: m.data["type"] == "Step.n3")
    assert [m.data["data"] for m in got] == [0, 1, 2, 3]
    assert [m.data["data"] for m in after] == [2, 3]  # a slow buffer (2) reads from the feed


async def test_silence_sends_heartbeat_comments(served: Served) -> None:
    async with served.client() as api, api.stream("GET", "/~default/stream") as s:
        async for message in messages(s):
            assert message.event == "comment"
            break


async def test_bad_cursors_and_types_are_400_problems(served: Served) -> None:
    async with served.client() as api:
        bad_header = await api.get("/~default/stream", headers={"Last-Event-ID": "abc"})
        bad_query = await api.get("/~default/stream", params={"lastEventId": "1.2"})
        bad_types = await api.get("/~default/stream", params={"types": "run,Deal won"})
        missing = await api.get("/~default/runs/run_nope/stream")
        odd = [
            await api.get("/~default/stream", headers={"Last-Event-ID": "9" * 41}),
            await api.get("/~default/stream", params={"types": ",".join(["A.b"] * 51)}),
            await api.get("/~default/stream", params={"since": "1"}),
            await api.get("/~default/stream", params={"lastEventId": "99999999999999999999"}),
            await api.get("/~default/runs/run_nope/stream", params={"lastEventId": "-1"}),
        ]
    assert bad_header.status_code == bad_query.status_code == bad_types.status_code == 400
    assert bad_header.headers["content-type"] == "application/problem+json"
    assert bad_header.json()["errors"][0]["path"] == "$.header.Last-Event-ID"
    assert bad_query.json()["errors"][0]["path"] == "$.query.lastEventId"
    assert bad_types.json()["errors"][0]["path"] == "$.query.types"
    assert "'Deal won'" in bad_types.json()["errors"][0]["message"]
    assert missing.status_code == 404
    assert [r.status_code // 100 for r in odd] == [4] * len(odd), [r.text for r in odd]
    assert all(r.headers["content-type"] == "application/problem+json" for r in odd)


async def test_streams_need_a_key_of_the_organization(served: Served) -> None:
    run_id = await start_stepper(served)
    async with httpx.AsyncClient(base_url=served.base, timeout=10.0) as anonymous:
        for path in ("/~default/stream", f"/~default/runs/{run_id}/stream"):
            refused = await anonymous.get(path)
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"] == 'Bearer realm="plait"'
            wrong = await anonymous.get(path, headers=bearer("plait_nope_nope"))
            assert wrong.status_code == 401
            other = await anonymous.get(path, headers=bearer(served.globex))
            assert other.status_code == 404  # another organization's key: as if absent
        refused_query = await anonymous.get("/~default/stream", params={"key": served.viewer})
        assert refused_query.status_code == 400  # never a key in the query string
    async with served.client() as viewer, viewer.stream("GET", "/~default/stream") as s:
        assert s.status_code == 200  # the viewer role may read streams


async def test_open_streams_per_key_are_capped(served: Served) -> None:
    async with served.client() as api, contextlib.AsyncExitStack() as stack:
        held = [await stack.enter_async_context(api.stream("GET", "/~default/stream"))
                for _ in range(LIMIT)]  # fmt: skip
        assert [s.status_code for s in held] == [200] * LIMIT
        refused = await api.get("/~default/stream")
        assert refused.status_code == 429
        problem = refused.json()
        assert problem["type"] == "urn:plait:problem:too-many-streams"
        assert "stream_max_per_key = 3" in problem["detail"]
        assert "PLAIT_STREAM_MAX_PER_KEY" in problem["detail"]
        async with (
            served.client(served.other_viewer) as other,
            other.stream("GET", "/~default/stream") as s,
        ):
            assert s.status_code == 200  # the cap is per key
        await held[0].aclose()  # the client goes: its place is free again
        key_id = served.viewer.split("_")[1]

        async def freed() -> bool:
            return served.engine.streams.open_count(key_id) == LIMIT - 1

        await assert_eventually(freed)
        async with api.stream("GET", "/~default/stream") as s:
            assert s.status_code == 200


async def test_a_slow_reader_misses_nothing(served: Served) -> None:
    engine = served.engine
    stream = await engine.streams.open_organization("default", types="Slow.*")
    for n in range(10):  # nothing reads: the buffer (2 changes) overflows
        await engine.events.emit("default", f"Slow.n{n}", n)
    store = await engine.deps.store()
    head = await store.changes_head()

    async def read_by_the_feed() -> bool:
        return engine.deps.feed.settled >= head

    await assert_eventually(read_by_the_feed)
    assert engine.deps.feed.overflows >= 1  # ... and the stream reads the feed again
    got: list[Any] = []
    async for message in stream:
        if message is not None:
            got.append(message.data.data)  # type: ignore[union-attr]
        if len(got) == 10:
            break
    await stream.aclose()
    assert got == list(range(10))


async def test_python_watch_follows_a_run_to_its_end(served: Served) -> None:
    engine = served.engine
    run_id = await start_stepper(served)
    seen: list[tuple[str, ...]] = []
    async for change in engine.handle(run_id).watch():
        data: dict[str, Any] = change.wire()["data"]
        seen.append(Message(change.event, change.id, data).brief())
        if change.event == "run" and data["status"] == "waiting":
            await engine.handle(run_id).signal("go", 1)
    assert seen == EVERY[:-1]
    tail = [c.id async for c in engine.handle(run_id).watch(after="10")]
    assert tail[0] == "10.1" and len(tail) == len(EVERY) - 1 - 11


async def test_a_stream_closed_before_it_is_read_frees_its_place_and_the_feed(
    served: Served,
) -> None:
    engine, feed = served.engine, served.engine.deps.feed
    run_id = await start_stepper(served)
    for _ in range(2):
        run = await engine.streams.open_run("default", run_id, key_id="k1")
        org = await engine.streams.open_organization("default", key_id="k1")
        assert run is not None and feed.subscribers == 2 and engine.streams.open_count("k1") == 2
        await run.aclose()
        await org.aclose()
        await org.aclose()  # again: nothing more
        assert feed.subscribers == 0 and engine.streams.open_count("k1") == 0

        async def reader_stopped() -> bool:
            return not feed.reading

        await assert_eventually(reader_stopped)


async def test_a_client_gone_before_the_first_message_frees_its_stream(served: Served) -> None:
    engine = served.engine
    stream = await engine.streams.open_organization("default", key_id="k2")
    sent: list[str] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message["type"])
        if message["type"] == "http.response.body":
            raise OSError("the client went")  # as a server answers a write to a closed socket

    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()  # no http.disconnect: only the failed write tells
        raise AssertionError

    await EventStream(stream, ends=False)({"type": "http"}, receive, send)
    assert sent == ["http.response.start", "http.response.body"]
    assert engine.streams.open_count("k2") == 0 and engine.deps.feed.subscribers == 0


async def test_a_stream_ends_with_close_once_its_key_is_revoked(served: Served) -> None:
    engine, key_id = served.engine, served.other_viewer.split("_")[1]
    run_id = await start_stepper(served)

    async def busy(response: httpx.Response) -> list[Message]:
        """The organization's stream, never silent for a heartbeat: each event it delivers
        is answered by the next one, up to its end (which must follow an ``event: close``)."""
        await engine.events.emit("default", "Busy.tick", None)
        got = []
        async for m in messages(response):
            if m.event != "comment":
                got.append(m)
            if m.event == "event":
                await engine.events.emit("default", "Busy.tick", None)
        assert got and got[-1].event == "close", [m.brief() for m in got[-3:]]
        return got

    async def opened() -> bool:
        return engine.streams.open_count(key_id) == 2

    async with served.client(served.other_viewer) as api, contextlib.AsyncExitStack() as stack:
        org = await stack.enter_async_context(api.stream("GET", "/~default/stream"))
        run = await stack.enter_async_context(api.stream("GET", f"/~default/runs/{run_id}/stream"))
        flowing = asyncio.create_task(busy(org))
        try:
            await assert_eventually(opened)
            await engine.keys.revoke("default", key_id)
            got = [await asyncio.wait_for(flowing, 10), await asyncio.wait_for(closing(run), 10)]
        finally:
            flowing.cancel()
        assert [(m.event, m.data["reason"]) for m in (g[-1] for g in got)] == [
            ("close", "The API key was revoked.")] * 2  # fmt: skip
        assert any(m.event == "event" for m in got[0])  # it was flowing when revoked
        assert [m.brief() for m in got[1][:2]] == [("run", "running"), ("step", "add", "completed")]

        async def freed() -> bool:
            return engine.streams.open_count(key_id) == 0

        await assert_eventually(freed)
        refused = await api.get("/~default/stream")
        assert refused.status_code == 401


async def closing(response: httpx.Response) -> list[Message]:
    """The messages of ``response`` (comments left out) up to its end, which must follow an
    ``event: close``."""
    got = [m async for m in messages(response) if m.event != "comment"]
    assert got and got[-1].event == "close", [m.brief() for m in got[-3:]]
    return got


async def test_a_change_is_offered_only_to_the_streams_of_its_run_and_organization(
    served: Served,
) -> None:
    engine, feed = served.engine, served.engine.deps.feed
    offered: dict[str, list[str | None]] = {"run": [], "globex": []}

    def seen(name: str) -> Callable[[Any], bool]:
        def match(change: Any) -> bool:
            offered[name].append(change.run_id if name == "run" else change.org)
            return False

        return match

    watched = await start_stepper(served)
    subs = [await feed.subscribe(seen("run"), run_id=watched),
            await feed.subscribe(seen("globex"), org="globex")]  # fmt: skip
    try:
        await (await engine.start("quick")).result(timeout=10)
        await engine.events.emit("default", "Other.thing", None)
        await engine.events.emit("globex", "Go.now", None)
        await engine.handle(watched).signal("go", 1)
        await wait_for_steps(served, watched, "receive:go#2", "waiting")
        head = await (await engine.deps.store()).changes_head()

        async def read() -> bool:
            return feed.settled >= head

        await assert_eventually(read)
    finally:
        for sub in subs:
            feed.unsubscribe(sub)
    assert offered["run"] and set(offered["run"]) == {watched}
    assert offered["globex"] == ["globex"]
