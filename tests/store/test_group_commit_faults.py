"""Group commit when one operation of a batch fails in an unexpected way (a bug in it, not a
database error): that caller gets a StoreError, every other caller of the batch its result, and
the other writes commit. Before, on SQLite, nobody in the batch was ever answered."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from plait.errors import StoreError
from plait.store.base import Store
from plait.store.records import NewRun
from plait.store.session import Session


async def test_a_faulty_operation_fails_alone_and_the_batch_commits(store: Store) -> None:
    submit: Any = store._submit

    def broken(db: Session) -> None:
        db.run("get_run", {"run_id": "nothing"})
        raise ValueError("a bug in this operation")

    first = store.create_run(NewRun("run_before", "w", b"[]", 1.0))
    fault = submit(broken)
    second = store.create_run(NewRun("run_after", "w", b"[]", 1.0))
    done = await asyncio.wait_for(
        asyncio.gather(first, fault, second, return_exceptions=True), timeout=10
    )
    assert isinstance(done[1], StoreError) and "a bug in this operation" in str(done[1])
    assert done[0][1] is True and done[2][1] is True  # (record, created)
    for run_id in ("run_before", "run_after"):
        stored = await store.get_run(run_id, with_steps=False)
        assert stored is not None and stored.status == "pending"


async def test_the_store_serves_after_a_faulty_operation(store: Store) -> None:
    submit: Any = store._submit

    def broken(db: Session) -> None:
        raise KeyError("oops")

    with pytest.raises(StoreError, match="oops"):
        await asyncio.wait_for(submit(broken), timeout=10)
    _, created = await store.create_run(NewRun("run_later", "w", b"[]", 2.0))
    assert created
    stored = await store.get_run("run_later", with_steps=False)
    assert stored is not None and stored.status == "pending"
