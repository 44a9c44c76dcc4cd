"""``SyncWorkflowTest``: a ``WorkflowTest`` for plain ``def`` tests, its coroutine methods
blocking (the engine's loop runs in a background thread, as ``engine.sync()`` does)."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any

from plait.sync import Blocking, SyncEngine

if TYPE_CHECKING:
    from plait.testing.workflows import WorkflowTest


class SyncWorkflowTest:
    """``with WorkflowTest(engine).sync() as t: run = t.run(wf, x); t.assert_called("charge")``.

    Inside the block ``t`` has every method of ``WorkflowTest``; those that are coroutines
    (``run``, ``advance``, ``complete_task``, ...) return their result instead.
    """

    def __init__(self, test: WorkflowTest) -> None:
        self.test = test
        self._portal = SyncEngine(test.engine, worker=False)

    def __enter__(self) -> Any:
        self._portal.__enter__()
        try:
            self._portal.call(self.test.__aenter__())
        except BaseException:
            self._portal.__exit__(None, None, None)
            raise
        return Blocking(self._portal, self.test)

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._portal.__exit__(kind, exc, tb)  # closes the test's engine
