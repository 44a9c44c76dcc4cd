"""The workflows of stored definition versions compiled in one process, in a bounded cache."""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from plait.workflow import Workflow

Key = tuple[str, str, int]
"""``(org, workflow id, version)``."""


class PlanCache(OrderedDict[Key, "Workflow"]):
    """Compiled workflows by ``(org, workflow id, version)``. A version is immutable, so it is
    validated and compiled once per process, until the least recently used versions are dropped
    beyond ``size`` (then compiled again if a run of one comes back)."""

    def __init__(self, size: int = 1024) -> None:
        super().__init__()
        self.size = size

    def __getitem__(self, key: Key) -> Workflow:
        workflow = super().__getitem__(key)
        self.move_to_end(key)
        return workflow

    def __setitem__(self, key: Key, workflow: Workflow) -> None:
        super().__setitem__(key, workflow)
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)
