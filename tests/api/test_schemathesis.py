"""Property-based: requests generated from the OpenAPI document never get a server error.

Schemathesis generates valid and invalid requests for every operation (with an admin key of the
organization in the path, so that requests reach the handlers rather than stopping at auth) and
checks that no answer is a 5xx, on each backend (the same handlers, different database errors).

Derandomized: hypothesis draws the same examples on every run, so a commit always passes or
always fails. ``scripts/fuzz`` runs a larger, randomized campaign for people.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi

from plait import Engine
from plait.api import create_app
from tests.backends import BACKENDS, database_url

EXAMPLES_PER_OPERATION = 30


async def _admin_key(url: str) -> str:
    engine = Engine(url)
    try:
        return (await engine.keys.create("acme", "admin")).key
    finally:
        await engine.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_generated_request_gets_a_server_error(backend: str, tmp_path: Path) -> None:
    with database_url(backend, tmp_path, sqlite_name="fuzz.db") as url:
        _fuzz(url)


def _fuzz(url: str) -> None:
    headers = {"Authorization": f"Bearer {asyncio.run(_admin_key(url))}"}
    app = create_app(Engine(url))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    try:
        operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
        assert len(operations) >= 20
        for operation in operations:
            if operation.path.endswith("/stream"):
                # Live streams never end for a client that reads the whole answer, as this one
                # does; tests/api/test_streams.py checks their bad input over real HTTP.
                continue
            modes = [GenerationMode.POSITIVE]
            if "{org}" in operation.path:  # /healthz and /metrics take nothing to get wrong
                modes.append(GenerationMode.NEGATIVE)
            cases = st.one_of(
                [
                    operation.as_strategy(m, path_parameters={"org": "acme"}, headers=headers)
                    for m in modes
                ]
            )

            @given(case=cases)
            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                derandomize=True,  # the same examples on every run: CI is deterministic
                phases=[Phase.generate],  # a failure is reported as found, unshrunk: faster
                suppress_health_check=list(HealthCheck),
            )
            def no_server_error(case: schemathesis.Case[Any]) -> None:
                response = case.call()
                case.validate_response(response, checks=[not_a_server_error])

            no_server_error()
    finally:
        asgi.shutdown_lifespans()  # closes the engine
