"""What expressions of one step can see, and how its key is formed."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


class Frame:
    """Outputs visible at a point of the run, plus fixed names (``input``, ``event``, ...).

    Steps inside a ``foreach`` iteration run in a child frame whose keys carry the iteration
    (``charge[2]``) and whose scope adds the item; their outputs stay in the child.
    """

    __slots__ = ("base", "order", "outputs", "suffix")

    def __init__(
        self,
        base: dict[str, Any],
        outputs: dict[str, Any],
        suffix: str = "",
        order: list[str] | None = None,
    ) -> None:
        self.base = base
        self.outputs = outputs
        self.suffix = suffix
        self.order = order or []
        """Top-level step ids in definition order, for ``step[i]``."""

    def key(self, step_id: str) -> str:
        return step_id + self.suffix

    def scope(self, extra: dict[str, Any] | None = None) -> Scope:
        return Scope(self, extra)

    def child(self, extra: dict[str, Any], suffix: str) -> Frame:
        return Frame({**self.base, **extra}, dict(self.outputs), self.suffix + suffix, self.order)


class Scope(Mapping[str, Any]):
    """The names an expression sees, looked up lazily: ``extra``, then ``steps``/``results``,
    then step outputs by id, then the frame's fixed names. Nothing is copied per step."""

    __slots__ = ("_extra", "_frame")

    def __init__(self, frame: Frame, extra: dict[str, Any] | None) -> None:
        self._frame = frame
        self._extra = extra or {}

    def __getitem__(self, name: str) -> Any:
        if name in self._extra:
            return self._extra[name]
        if name in ("steps", "results"):
            return self._frame.outputs
        if name == "step":
            return [self._frame.outputs.get(i) for i in self._frame.order]
        outputs = self._frame.outputs
        if name in outputs:
            return outputs[name]
        return self._frame.base[name]

    def __iter__(self) -> Iterator[str]:
        fixed = {"steps": 0, "results": 0, "step": 0}
        seen = {**self._frame.base, **self._frame.outputs, **fixed, **self._extra}
        return iter(seen)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def truthy(value: Any) -> bool:
    """JavaScript-like truthiness, as the brief's conditions expect."""
    if value is None or value is False:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value != 0
    if isinstance(value, str | list | dict):
        return len(value) > 0
    return True
