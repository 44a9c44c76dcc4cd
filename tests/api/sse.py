"""A small Server-Sent Events reader over an httpx streaming response, for the stream tests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Message:
    """One SSE message: ``event`` is ``comment`` for a comment line (a heartbeat)."""

    event: str
    id: str | None = None
    data: Any = None

    def brief(self) -> tuple[str, ...]:
        """``(event, what changed)`` for comparing streams."""
        d = self.data
        if self.event == "run":
            return ("run", d["status"])
        if self.event == "step":
            return ("step", d["key"], d["status"])
        if self.event == "progress":
            p = d["progress"]
            return ("progress", f"{p['completedSteps']}/{p['totalSteps']}")
        if self.event == "event":
            return ("event", d["type"])
        return (self.event,)


def _parse(lines: list[str]) -> Message | None:
    fields: dict[str, str] = {}
    comment = False
    for line in lines:
        if line.startswith(":"):
            comment = True
            continue
        name, _, value = line.partition(":")
        fields[name] = fields.get(name, "") + value.removeprefix(" ")
    if "data" in fields:
        return Message(fields.get("event", "message"), fields.get("id"), json.loads(fields["data"]))
    return Message("comment") if comment else None


async def messages(response: httpx.Response) -> AsyncIterator[Message]:
    """The messages of a streaming response, as they arrive (``retry`` lines dropped)."""
    block: list[str] = []
    async for line in response.aiter_lines():
        if line:
            block.append(line)
            continue
        found = _parse(block)
        block = []
        if found is not None:
            yield found


def iter_messages(lines: Iterable[str]) -> Iterator[Message]:
    """The messages of a blocking stream's lines (``httpx.Response.iter_lines``), as they
    arrive."""
    block: list[str] = []
    for line in lines:
        if line:
            block.append(line)
            continue
        found = _parse(block)
        block = []
        if found is not None:
            yield found


def parse_all(text: str) -> Iterator[Message]:
    """The messages of a whole response body."""
    for block in text.split("\n\n"):
        found = _parse([line for line in block.split("\n") if line])
        if found is not None:
            yield found
