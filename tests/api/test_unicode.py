"""A unicode battery over every route of ``/openapi.json``, on each backend: NUL and lone
surrogates are refused with a problem naming their JSON path, valid Unicode (RTL marks, 4-byte
emoji, combining marks) is stored and returned exactly, overlong text gets a problem document or
is stored, and nothing answers a 5xx.

Every path parameter, query parameter, header parameter (``Idempotency-Key``, sent as the
string's UTF-8 bytes) and top-level string (or free-form) body field of every operation gets
each string in turn, the other fields filled with plain values.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import FastAPI

from tests.api.conftest import Keys, bearer

REFUSED = {
    "nul": "a\x00b",
    "nul-only": "\x00",
    "high surrogate": "a\ud800b",
    "low surrogate": "\udfff",
}
VALID = {
    "rtl": "\u200f\u05e9\u05dc\u05d5\u05dd \u202eabc\u202c",  # RLM, Hebrew, RLO ... PDF
    "emoji": "😀 👩\u200d👩\u200d👧 🇳🇴",
    "combining": "e\u0301 ﷽ \U0010fffd",
    "backslash-u": "\\u0000 is not NUL",
}
OVERLONG = "n" * 20_000
"""Longer than any name limit, yet inside the test app's 64 KB body limit: a 4xx (a name limit)
or a 2xx (a field without one) are both fine, a 5xx is not."""
PROBLEM = "application/problem+json"


@dataclass(frozen=True)
class Slot:
    """Where one string goes in one request."""

    where: str  # path | query | header | body
    name: str  # the parameter's or the body field's name ("" for a whole free-form body)

    def json_path(self) -> str:
        if self.where == "header":  # as the server receives it: the name in lower case
            return f'$.headers["{self.name.lower()}"]'
        return f"$.{self.where}" + (f".{self.name}" if self.name else "")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    params: list[dict[str, Any]]
    body: dict[str, Any] | None  # resolved JSON schema of a JSON body

    def slots(self) -> list[Slot]:
        found = [Slot(p["in"], p["name"]) for p in self.params if _texty(p.get("schema", {}))]
        if self.body is None:
            return found
        props = self.body.get("properties")
        if not props:
            return [*found, Slot("body", "")]
        return [*found, *(Slot("body", n) for n, s in props.items() if _texty(s) or not s)]


def operations(document: dict[str, Any]) -> list[Operation]:
    found = []
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            content = op.get("requestBody", {}).get("content", {})
            schema = content.get("application/json", {}).get("schema")
            body = None if schema is None else _resolve(document, schema)
            found.append(Operation(method.upper(), path, op.get("parameters", []), body))
    return found


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The schema itself: ``$ref`` followed, the first non-null branch of an ``anyOf``."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _resolve(document, document["components"]["schemas"][name])
    for branch in schema.get("anyOf", ()):
        if branch.get("type") != "null":
            return _resolve(document, branch)
    return schema


def _texty(schema: dict[str, Any]) -> bool:
    branches = schema.get("anyOf", [schema])
    return any(b.get("type") == "string" and "enum" not in b for b in branches)


def _plain(schema: dict[str, Any]) -> Any:
    """A plain value of a (resolved, shallow) schema, for the fields not under test."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    branches = schema.get("anyOf", [])
    if kind is None and branches:
        return _plain(next(b for b in branches if b.get("type") != "null"))
    plain = {"integer": 1, "number": 1, "boolean": False, "object": {}, "array": []}
    return plain.get(kind, "x")


def request_of(op: Operation, slot: Slot, value: str) -> tuple[str, bytes | None]:
    """The URL (path and query percent-encoded as UTF-8, surrogates as their bytes) and body."""
    path = op.path
    for param in op.params:
        if param["in"] == "path":
            given = value if slot == Slot("path", param["name"]) else _path_default(param["name"])
            path = path.replace("{" + param["name"] + "}", _quoted(given))
    query = f"?{_quoted(slot.name)}={_quoted(value)}" if slot.where == "query" else ""
    if op.body is None:
        return path + query, None
    body: Any = {
        name: _plain(schema)
        for name, schema in op.body.get("properties", {}).items()
        if name in op.body.get("required", ())
    }
    if slot.where == "body":
        body = value if not slot.name else {**copy.deepcopy(body), slot.name: value}
    return path + query, json.dumps(body).encode()  # ensure_ascii: surrogates as \ud800


def _path_default(name: str) -> str:
    return "acme" if name == "org" else "x"


def _quoted(text: str) -> str:
    return quote(text, safe="", errors="surrogatepass")


async def _send(
    client: httpx.AsyncClient, op: Operation, slot: Slot, value: str, headers: dict[str, str]
) -> httpx.Response:
    url, body = request_of(op, slot, value)
    sent: dict[str, str | bytes] = dict(headers)
    if body is not None:
        sent["Content-Type"] = "application/json"
    if slot.where == "header":
        sent[slot.name] = value.encode("utf-8", errors="surrogatepass")
    return await client.request(op.method, url, content=body, headers=sent)


async def _battery(client: httpx.AsyncClient, admin: dict[str, str]) -> list[str]:
    document = (await client.get("/openapi.json")).json()
    ops = operations(document)
    assert len(ops) >= 30
    wrong: list[str] = []
    for op in ops:
        for slot in op.slots():
            for label, value in {**REFUSED, **VALID, "overlong": OVERLONG}.items():
                answer = await _send(client, op, slot, value, admin)
                where = f"{op.method} {op.path} {slot.json_path()} <- {label}"
                problem = _judge(answer, slot, label, value)
                if problem:
                    wrong.append(f"{where}: {problem}")
    return wrong


def _judge(answer: httpx.Response, slot: Slot, label: str, value: str) -> str | None:
    if answer.status_code >= 500:
        return f"{answer.status_code} {answer.text[:200]}"
    refused = label in REFUSED
    if refused and (slot.where == "body" or label.startswith("nul")):
        return _refusal(answer, slot)
    if answer.status_code >= 400 and not answer.headers["content-type"].startswith(PROBLEM):
        return f"a {answer.status_code} that is not a problem document: {answer.text[:200]}"
    if label in VALID and answer.is_success and slot.where == "body" and slot.name:
        echoed = answer.json().get(slot.name) if isinstance(answer.json(), dict) else None
        if isinstance(echoed, str) and echoed != value:
            return f"stored {echoed!r}, sent {value!r}"
    return None


def _refusal(answer: httpx.Response, slot: Slot) -> str | None:
    """A refused string must be answered by the invalid-text problem naming its path (a URL
    carries a surrogate as its UTF-8 bytes, which decode to U+FFFD: not refused there)."""
    expected = 422 if slot.where == "body" else 400
    found = answer.json() if answer.headers.get("content-type", "").endswith("json") else {}
    paths = [e.get("path") for e in found.get("errors", [])] if isinstance(found, dict) else []
    if answer.status_code != expected or found.get("type") != "urn:plait:problem:invalid-text":
        return f"expected {expected} invalid-text, got {answer.status_code} {answer.text[:200]}"
    if paths != [slot.json_path()]:
        return f"expected the path {slot.json_path()}, got {paths}"
    return None


async def test_every_route_refuses_bad_text_and_keeps_good_text(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    wrong = await _battery(client, admin)
    assert not wrong, f"{len(wrong)} answers went wrong:\n" + "\n".join(wrong[:40])


# -- exact round trips of valid Unicode -----------------------------------------------------


ALL_VALID = " | ".join(VALID.values())


async def test_valid_unicode_round_trips_exactly(
    app: FastAPI, client: httpx.AsyncClient, keys: Keys
) -> None:
    admin = bearer(keys["acme"]["admin"])
    created = await client.post("/~acme/workflows", headers=admin, json={
        "name": "Flow " + VALID["emoji"], "description": ALL_VALID, "triggerEvent": "Deal.won",
        "steps": [{"action": "log", "mapping": {"message": "'hi'"}}],
    })  # fmt: skip
    assert created.status_code == 201, created.text
    got = (await client.get(f"/~acme/workflows/{created.json()['$id']}", headers=admin)).json()
    assert (got["name"], got["description"]) == ("Flow " + VALID["emoji"], ALL_VALID)

    data = {label: value for label, value in VALID.items()} | {VALID["rtl"]: [VALID["emoji"]]}
    event_in = {"type": "Deal.won", "data": data, "id": VALID["emoji"]}
    emitted = await client.post("/~acme/events", headers=admin, json=event_in)
    assert emitted.status_code == 202, emitted.text
    event = (await client.get(f"/~acme/events/{emitted.json()['$id']}", headers=admin)).json()
    assert event["data"] == data
    listed = await client.get("/~acme/events", headers=admin, params={"type": "Deal.won"})
    assert [e["data"] for e in listed.json()["items"]] == [data]

    key = await client.post("/~acme/keys", headers=admin,
                            json={"role": "viewer", "user": VALID["rtl"].strip()})  # fmt: skip
    assert key.status_code == 201, key.text
    assert key.json()["user"] == VALID["rtl"].strip()


async def test_nul_in_a_query_parameter_is_a_400_on_every_backend(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    for url in ("/~acme/runs?workflow=%00", "/~acme/tasks?assignee=%00abc",
                "/~acme/events?type=a%00"):  # fmt: skip
        answer = await client.get(url, headers=admin)
        assert answer.status_code == 400, answer.text
        problem = answer.json()
        assert problem["type"] == "urn:plait:problem:invalid-text"
        name = url.split("?")[1].split("=")[0]
        assert problem["errors"][0]["path"] == f"$.query.{name}"
        assert "NUL character (U+0000)" in problem["detail"]


async def test_nul_in_a_data_header_is_refused(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    answer = await client.post("/~acme/webhooks/hook", content=b"{}",
                               headers={"X-Request-Id": "a\x00b"})  # fmt: skip
    assert answer.status_code == 400, answer.text
    assert answer.json()["errors"][0]["path"] == '$.headers["x-request-id"]'


async def test_a_lone_surrogate_as_raw_utf8_bytes_in_a_body_is_refused(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    raw = b'{"type": "Deal.won", "data": {"note": "a\xed\xa0\x80"}}'  # U+D800 as UTF-8 bytes
    answer = await client.post("/~acme/events", content=raw,
                               headers={**admin, "Content-Type": "application/json"})  # fmt: skip
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"] == [
        {"path": "$.body.data.note", "message": "contains a lone surrogate (U+D800) at index 1"}
    ]
