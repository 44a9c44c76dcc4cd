"""One blocking facade over the async engine, for scripts and notebooks.

``SyncEngine`` runs an event loop in a background thread and forwards every call to the
:class:`~plait.engine.Engine` coroutine of the same name, so there is one API, not twin methods.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from plait.service.handles import RunHandle

if TYPE_CHECKING:
    from plait.engine import Engine

T = TypeVar("T")


class SyncEngine:
    """``with engine.sync() as plait: handle = plait.start(wf, x); handle.result()``.

    With ``worker=True`` (the default) the engine's worker runs in the background thread while
    the block is open, so started runs execute.
    """

    def __init__(self, engine: Engine, *, worker: bool = True) -> None:
        self.engine = engine
        self._with_worker = worker
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> SyncEngine:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def serve() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._loop.call_soon(ready.set)
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="plait-sync", daemon=True)
        self._thread.start()
        ready.wait()
        if self._with_worker:
            self.call(self.engine.start_worker())
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._loop is not None and self._thread is not None
        try:
            self.call(self.engine.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the background loop and return its result."""
        if self._loop is None:
            coro.close()
            raise RuntimeError("use the SyncEngine inside a with block")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def __getattr__(self, name: str) -> Any:
        return _blocking(self, getattr(self.engine, name))


class Blocking:
    """An object of the engine (a run handle, a service such as ``engine.runs``) whose coroutine
    methods block: ``plait.runs.find("acme")``, ``plait.handle(run_id).info()``."""

    def __init__(self, portal: SyncEngine, target: Any) -> None:
        self._portal = portal
        self._target = target

    def __repr__(self) -> str:
        return f"<blocking {self._target!r}>"

    def __getattr__(self, name: str) -> Any:
        return _blocking(self._portal, getattr(self._target, name))


def _blocking(portal: SyncEngine, attr: Any) -> Any:
    """``attr`` made blocking: a coroutine function's calls wait for their result; a run handle
    or a service (what ``engine.start``, ``engine.handle`` and ``engine.runs`` give) is wrapped
    so that its own methods block too; anything else is returned as is."""
    if _wrapped(attr):
        return Blocking(portal, attr)
    if not callable(attr) or inspect.isclass(attr):
        return attr
    waits = inspect.iscoroutinefunction(attr)

    @functools.wraps(attr)
    def call(*args: Any, **kwargs: Any) -> Any:
        result = portal.call(attr(*args, **kwargs)) if waits else attr(*args, **kwargs)
        return Blocking(portal, result) if _wrapped(result) else result

    return call


def _wrapped(value: Any) -> bool:
    return isinstance(value, RunHandle) or type(value).__module__.startswith("plait.service.")
