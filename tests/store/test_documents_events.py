"""Events and documents: stored once per id or key, each write atomic with the event it emits."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest

from plait.errors import InvalidQuery, SerializationError, StoreError
from plait.store.base import Store
from plait.store.records import EventRecord
from plait.store.sqlite.store import SQLiteStore

T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z


async def _emit(
    store: Store, type: str, data: Any, event_id: str | None = None, org: str = "acme"
) -> tuple[EventRecord, bool]:
    event, new, _ = await store.emit(
        org, type, orjson.dumps(data), event_id=event_id, source="api", run_id=None, now=T0
    )
    return event, new


async def _events(store: Store, type: str | None = None, org: str = "acme") -> list[Any]:
    return [orjson.loads(e.data) for e in await store.list_events(org, type, 100)]


# -- events -----------------------------------------------------------------------------------


async def test_an_event_id_is_stored_once_and_a_second_emit_gets_the_first(store: Store) -> None:
    first, created = await _emit(store, "Deal.won", {"n": 1}, "event_fixed")
    again, created_again = await _emit(store, "Deal.won", {"n": 2}, "event_fixed")
    assert created and not created_again
    assert again == first and orjson.loads(again.data) == {"n": 1}
    _, other_org = await _emit(store, "Deal.won", {"n": 3}, "event_fixed", org="globex")
    assert other_org  # ids are unique per organization
    assert await _events(store) == [{"n": 1}]


async def test_concurrent_emits_of_one_id_store_it_once(store: Store) -> None:
    results = await asyncio.gather(*[_emit(store, "T", {"i": i}, "event_same") for i in range(20)])
    assert sum(created for _, created in results) == 1
    assert len({r.data for r, _ in results}) == 1


async def test_an_emit_without_id_gets_a_fresh_event_id(store: Store) -> None:
    (a, _), (b, _) = await _emit(store, "T", {}), await _emit(store, "T", {})
    assert a.id != b.id
    assert a.id.startswith("event_") and len(a.id) == len("event_") + 16
    assert (a.org, a.source, a.run_id, a.created_at) == ("acme", "api", None, T0)


async def test_list_events_is_newest_first_by_type_and_org(store: Store) -> None:
    for i in range(5):
        await _emit(store, "A" if i % 2 == 0 else "B", {"i": i})
    await _emit(store, "A", {"i": "elsewhere"}, org="globex")
    assert await _events(store) == [{"i": i} for i in (4, 3, 2, 1, 0)]
    assert await _events(store, "A") == [{"i": 4}, {"i": 2}, {"i": 0}]
    assert len(await store.list_events("acme", None, 2)) == 2


async def test_event_data_must_be_json(store: Store) -> None:
    with pytest.raises(SerializationError, match="not JSON"):
        await store.emit("acme", "T", b"{nope", event_id=None, source="api", run_id=None, now=T0)


# -- documents --------------------------------------------------------------------------------


async def test_create_returns_the_record_and_emits_created_with_it(store: Store) -> None:
    doc = await store.create_document("acme", "Deal", {"name": "Big", "amount": 10}, now=T0)
    record = doc.as_dict()
    assert doc.id.startswith("deal_") and doc.version == 1
    assert record == {
        "name": "Big",
        "amount": 10,
        "$id": doc.id,
        "$type": "Deal",
        "createdAt": "2027-01-15T08:00:00.000Z",
        "updatedAt": "2027-01-15T08:00:00.000Z",
    }
    [event] = await store.list_events("acme", "Deal.created", 10)
    assert orjson.loads(event.data) == record
    assert (event.source, event.run_id) == ("document", None)
    assert await store.get_document("acme", "Deal", doc.id) == doc


async def test_computed_fields_are_not_stored(store: Store) -> None:
    given = {"name": "x", "$id": "deal_forged", "$type": "Other", "createdAt": "yesterday"}
    doc = await store.create_document("acme", "Deal", given, now=T0)
    assert doc.data == {"name": "x"} and doc.id != "deal_forged"
    assert doc.as_dict()["$type"] == "Deal"


async def test_a_create_under_a_used_key_returns_the_first_document(store: Store) -> None:
    first = await store.create_document("acme", "Deal", {"n": 1}, now=T0, idempotency_key="run_a/s")
    again = await store.create_document(
        "acme", "Deal", {"n": 2}, now=T0 + 1, idempotency_key="run_a/s"
    )
    other = await store.create_document("acme", "Deal", {"n": 3}, now=T0, idempotency_key="run_b/s")
    assert again == first and other.id != first.id
    assert len(await store.find_documents("acme", "Deal", {}, None, 10)) == 2
    assert len(await store.list_events("acme", "Deal.created", 10)) == 2


async def test_concurrent_creates_under_one_key_create_one_document(store: Store) -> None:
    docs = await asyncio.gather(
        *[
            store.create_document("acme", "Deal", {"i": i}, now=T0, idempotency_key="k")
            for i in range(10)
        ]
    )
    assert len({d.id for d in docs}) == 1
    assert len(await store.list_events("acme", None, 100)) == 1


async def test_update_merges_top_level_fields_and_emits_updated(store: Store) -> None:
    doc = await store.create_document(
        "acme",
        "Deal",
        {"name": "a", "stage": "new", "meta": {"x": 1, "y": 2}},
        now=T0,
        run_id="run_1",
    )
    updated = await store.update_document(
        "acme",
        "Deal",
        doc.id,
        {"stage": "won", "meta": {"x": 9}, "$id": "ignored"},
        now=T0 + 60,
        run_id="run_2",
    )
    assert updated is not None
    assert updated.data == {"name": "a", "stage": "won", "meta": {"x": 9}}  # shallow: meta replaced
    assert (updated.version, updated.created_at, updated.updated_at) == (2, T0, T0 + 60)
    assert updated.as_dict()["updatedAt"] == "2027-01-15T08:01:00.000Z"
    [event] = await store.list_events("acme", "Deal.updated", 10)
    assert orjson.loads(event.data) == updated.as_dict()
    assert (event.run_id, event.created_at) == ("run_2", T0 + 60)
    assert await store.get_document("acme", "Deal", doc.id) == updated


async def test_update_of_a_missing_document_changes_nothing(store: Store) -> None:
    assert await store.update_document("acme", "Deal", "deal_nope", {"a": 1}, now=T0) is None
    doc = await store.create_document("acme", "Deal", {"a": 0}, now=T0)
    assert await store.update_document("globex", "Deal", doc.id, {"a": 1}, now=T0) is None
    assert await store.update_document("acme", "Lead", doc.id, {"a": 1}, now=T0) is None
    assert await store.list_events("acme", "Deal.updated", 10) == []


async def test_an_update_under_a_used_key_is_not_applied_again(store: Store) -> None:
    doc = await store.create_document("acme", "Deal", {"n": 0}, now=T0)
    for _ in range(2):
        again = await store.update_document(
            "acme", "Deal", doc.id, {"n": 1}, now=T0 + 1, idempotency_key="run_a/up"
        )
        assert again is not None and again.version == 2
    assert len(await store.list_events("acme", "Deal.updated", 10)) == 1


async def test_delete_emits_deleted_once(store: Store) -> None:
    doc = await store.create_document("acme", "Deal", {"n": 0}, now=T0)
    assert await store.delete_document("acme", "Deal", doc.id, now=T0 + 1, run_id="run_d")
    assert not await store.delete_document("acme", "Deal", doc.id, now=T0 + 2)
    assert await store.get_document("acme", "Deal", doc.id) is None
    [event] = await store.list_events("acme", "Deal.deleted", 10)
    assert orjson.loads(event.data) == {"$id": doc.id}
    assert (event.run_id, event.source) == ("run_d", "document")


async def test_a_delete_under_a_used_key_reports_it_deleted_again(store: Store) -> None:
    doc = await store.create_document("acme", "Deal", {"n": 0}, now=T0)
    for _ in range(2):
        assert await store.delete_document("acme", "Deal", doc.id, now=T0, idempotency_key="k")
    assert len(await store.list_events("acme", "Deal.deleted", 10)) == 1


async def test_documents_are_scoped_by_org_and_noun(store: Store) -> None:
    doc = await store.create_document("acme", "Deal", {"n": 0}, now=T0)
    assert await store.get_document("globex", "Deal", doc.id) is None
    assert await store.get_document("acme", "Lead", doc.id) is None
    await store.create_document("acme", "Lead", {"n": 0}, now=T0)
    await store.create_document("globex", "Deal", {"n": 0}, now=T0)
    assert [d.id for d in await store.find_documents("acme", "Deal", {}, None, 10)] == [doc.id]


# -- find -------------------------------------------------------------------------------------

DEALS: list[dict[str, Any]] = [
    {"name": "a", "stage": "won", "amount": 300, "hot": True, "tags": ["x"]},
    {"name": "b", "stage": "new", "amount": 100, "hot": False, "owner": None},
    {"name": "c", "stage": "won", "amount": 200.5, "hot": 1},
    {"name": "d", "stage": "won", "amount": 100, "tags": ["x"], "meta": {"k": 1}},
]


async def _names(
    store: Store, where: dict[str, Any], sort: str | None = None, limit: int = 10
) -> list[str]:
    return [d.data["name"] for d in await store.find_documents("acme", "Deal", where, sort, limit)]


@pytest.fixture
async def deals(store: Store) -> Store:
    for i, data in enumerate(DEALS):
        await store.create_document("acme", "Deal", data, now=T0 + 10 - i)  # newest first
    return store


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({}, ["d", "c", "b", "a"]),
        ({"stage": "won"}, ["d", "c", "a"]),
        ({"stage": "won", "amount": 100}, ["d"]),
        ({"amount": 100.0}, ["d", "b"]),  # numbers by value
        ({"amount": "100"}, []),  # a string is not a number
        ({"hot": True}, ["a"]),  # a boolean is not the number 1
        ({"hot": 1}, ["c"]),
        ({"owner": None}, ["d", "c", "b", "a"]),  # null matches null and missing
        ({"tags": ["x"]}, ["d", "a"]),
        ({"meta": {"k": 1}}, ["d"]),
        ({"missing": "x"}, []),
    ],
)
async def test_find_filters_by_equality_on_top_level_fields(
    deals: Store, where: dict[str, Any], expected: list[str]
) -> None:
    assert await _names(deals, where) == expected


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("amount", ["d", "b", "c", "a"]),  # ties (100) oldest first
        ("-amount", ["a", "c", "d", "b"]),
        ("name", ["a", "b", "c", "d"]),
        ("-createdAt", ["a", "b", "c", "d"]),
        ("createdAt", ["d", "c", "b", "a"]),
        ("hot", ["d", "b", "c", "a"]),  # missing first ascending; true sorts as 1
        ("-tags", ["d", "a", "c", "b"]),
    ],
)
async def test_find_sorts_by_a_field(deals: Store, sort: str, expected: list[str]) -> None:
    assert await _names(deals, {}, sort) == expected


async def test_find_limits_after_filtering_and_sorting(deals: Store) -> None:
    assert await _names(deals, {"stage": "won"}, "-amount", 2) == ["a", "c"]


@pytest.mark.parametrize("field", ["$id", "createdAt", 'we"ird', ""])
async def test_find_rejects_filters_it_cannot_apply(deals: Store, field: str) -> None:
    with pytest.raises(InvalidQuery):
        await deals.find_documents("acme", "Deal", {field: 1}, None, 10)
    if field not in ("$id", "createdAt"):
        with pytest.raises(InvalidQuery):
            await deals.find_documents("acme", "Deal", {}, field, 10)


# -- SQLite: one transaction per write and its event ------------------------------------------


async def test_a_document_write_and_its_event_commit_together(tmp_path: Path) -> None:
    path = str(tmp_path / "atomic.db")
    store = SQLiteStore(path)
    await store.open()
    before = store.commits
    doc = await store.create_document("acme", "Deal", {"n": 1}, now=T0)
    assert store.commits - before == 1
    # A failing event insert must take the document write down with it.
    sqlite3.connect(path).executescript(
        "CREATE TRIGGER no_events BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'no'); END;"
    )
    with pytest.raises(StoreError):
        await store.create_document("acme", "Deal", {"n": 2}, now=T0)
    with pytest.raises(StoreError):
        await store.update_document("acme", "Deal", doc.id, {"n": 3}, now=T0)
    with pytest.raises(StoreError):
        await store.delete_document("acme", "Deal", doc.id, now=T0)
    assert [d.data for d in await store.find_documents("acme", "Deal", {}, None, 10)] == [{"n": 1}]
    assert (await store.get_document("acme", "Deal", doc.id)) == doc
    await store.close()
