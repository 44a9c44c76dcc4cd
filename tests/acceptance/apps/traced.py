"""Actions of the traced crash test's definition (created over the API): ``record`` appends its
name to the step log; ``hang`` records, then hangs while the ``block`` marker exists."""

from __future__ import annotations

from typing import Any

from plait import Engine

from . import probe

engine = Engine()


@engine.action("record")
def record(value: dict[str, Any]) -> str:
    return probe.record(str(value["name"]))


@engine.action("hang")
def hang(value: dict[str, Any]) -> str:
    return probe.record_or_hang(str(value["name"]))
