"""The ``code`` action: user Python in the sandboxed process pool (one pool per engine)."""

from __future__ import annotations

import asyncio
from typing import Any

from plait.actions.base import ActionContext, ActionError


async def code_action(value: Any, ctx: ActionContext) -> Any:
    """Run ``value["code"]`` with ``input``, ``context`` and ``outputs`` in the sandbox pool,
    waiting for a worker in the queue of the step's organization."""
    if not isinstance(value, dict) or not isinstance(value.get("code"), str):
        raise ActionError("the code action needs its Python source under 'code'")
    pool = await _pool(ctx.clients)
    return await pool.run(
        value["code"],
        input=value.get("input"),
        context=value.get("context"),
        outputs=value.get("outputs"),
        org=ctx.org,  # the pool's fair share is per organization
    )


async def _pool(clients: dict[str, Any]) -> Any:
    lock: asyncio.Lock = clients.setdefault("code_pool_lock", asyncio.Lock())
    async with lock:
        pool = clients.get("code_pool")
        if pool is None:
            from plait.actions.code import CodePool

            pool = CodePool(**clients.get("code_pool_options", {}))
            await pool.start()
            clients["code_pool"] = pool
    return pool


async def close_code_pool(clients: dict[str, Any]) -> None:
    pool = clients.pop("code_pool", None)
    if pool is not None:
        await pool.close()
