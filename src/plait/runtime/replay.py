"""Step identity and replay: which recorded step answers which call.

A call's key is its name plus an occurrence counter (``charge``, ``charge#2``) and its position is
its index among all calls of the run. Both are assigned synchronously when the call is made, so
``asyncio.gather`` of several steps numbers them the same way on every replay.
"""

from __future__ import annotations

from plait.errors import NonDeterminismError
from plait.store.records import StepRecord


class Replay:
    """The recorded history of one run, consumed call by call.

    Ordered replay (code workflows) matches each call by key and position. Replay by key
    (``ordered=False``, used by the interpreter, whose step keys are unique ids and whose
    concurrent steps start in completion order) matches by key and kind only.
    """

    __slots__ = (
        "_by_key", "_by_position", "_counts", "_position_of", "error", "ordered", "position",
        "run_id",
    )  # fmt: skip

    def __init__(self, run_id: str, recorded: list[StepRecord], *, ordered: bool = True) -> None:
        self.run_id = run_id
        self.ordered = ordered
        self._by_key = {s.key: s for s in recorded}
        self._by_position = {s.position: s for s in recorded}
        self._position_of = {s.key: s.position for s in recorded}
        self._counts: dict[str, int] = {}
        self.position = 0
        self.error: NonDeterminismError | None = None

    def next(self, name: str, kind: str) -> tuple[str, int, StepRecord | None]:
        """Assign the next call its key and position; return the recorded step it replays."""
        count = self._counts.get(name, 0) + 1
        self._counts[name] = count
        key = name if count == 1 else f"{name}#{count}"
        position = self.position
        self.position += 1
        if not self._by_position:
            return key, position, None
        if not self.ordered:
            return key, position, self._by_key_only(key, kind)
        recorded = self._by_position.get(position)
        if recorded is not None and (recorded.key != key or recorded.kind != kind):
            self._fail(key, f"{recorded.kind} {recorded.key!r}", f"{kind} {key!r}")
        if recorded is None and key in self._position_of:
            where = self._position_of[key]
            self._fail(key, f"{kind} {key!r} as call #{where + 1}", f"it as call #{position + 1}")
        return key, position, recorded

    def peek(self, key: str) -> StepRecord | None:
        """The recorded step with this exact key, without consuming a call (replay by key)."""
        return self._by_key.get(key)

    def _by_key_only(self, key: str, kind: str) -> StepRecord | None:
        recorded = self._by_key.get(key)
        if recorded is not None and recorded.kind != kind:
            self._fail(key, f"{recorded.kind} {key!r}", f"{kind} {key!r}")
        return recorded

    def check_complete(self) -> None:
        """Fail if the history holds steps that the code, now finished, never called.

        Only in ordered replay: a workflow replayed by key (an interpreted definition) may
        legitimately not reach a recorded step again, e.g. a losing branch of a race.
        """
        if not self.ordered:
            return
        left = sorted(p for p in self._by_position if p >= self.position)
        if left and self.error is None:
            step = self._by_position[left[0]]
            self._fail(step.key, f"{step.kind} {step.key!r}", "nothing (the workflow returned)")

    def _fail(self, key: str, recorded: str, new: str) -> None:
        error = NonDeterminismError(self.run_id, key, recorded, new)
        if self.error is None:
            self.error = error
        raise error
