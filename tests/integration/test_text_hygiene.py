"""Text plait does not store (NUL, lone surrogates) is refused the same way on every backend from
the Python API and the CLI, naming where it is; valid Unicode is stored and returned exactly.

(The REST API's side is ``tests/api/test_unicode.py``.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from plait import Context, Engine
from plait.errors import InvalidText, SerializationError, WorkflowFailed

MakeEngine = Callable[..., Engine]

NICE = {
    "rtl": "\u200f\u05e9\u05dc\u05d5\u05dd\u202e",
    "emoji": "😀👩\u200d👧",
    "escaped": "\\u0000",
}


def _registered(engine: Engine) -> None:
    @engine.workflow("echo")
    async def echo(ctx: Context, value: Any) -> Any:
        return await ctx.step("echo", lambda: value)

    @engine.workflow("nul-step")
    async def nul_step(ctx: Context) -> str:
        return await ctx.step("make", lambda: {"notes": ["fine", "a\x00b"]})


async def test_emit_refuses_nul_in_the_type_and_the_data_and_stores_nothing(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine()
    with pytest.raises(InvalidText) as refused:
        await engine.events.emit("acme", "Deal.\x00won")
    assert refused.value.path == "$.type"
    with pytest.raises(InvalidText) as refused:
        await engine.events.emit("acme", "Deal.won", id="e\ud800")
    assert (refused.value.path, refused.value.reason) == (
        "$.id", "contains a lone surrogate (U+D800) at index 1")  # fmt: skip
    with pytest.raises(
        SerializationError, match=r"the text at \$\.deal\.notes\[1\] contains a NUL"
    ):
        await engine.events.emit("acme", "Deal.won", {"deal": {"notes": ["ok", "x\x00"]}})
    assert (await engine.events.find("acme")).items == []


async def test_start_refuses_bad_text_in_the_input_and_the_run_id(make_engine: MakeEngine) -> None:
    engine = make_engine()
    _registered(engine)
    with pytest.raises(SerializationError, match=r"the text at \$\[0\]\.note contains a lone"):
        await engine.start("echo", {"note": "a\ud800"})
    with pytest.raises(InvalidText, match=r"\$\.run_id: contains a NUL"):
        await engine.start("echo", 1, run_id="run-\x00")
    assert (await engine.list_runs()).items == []


async def test_a_step_result_with_nul_fails_the_run_naming_the_step_and_the_path(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine()
    _registered(engine)
    async with engine:
        handle = await engine.start("nul-step")
        with pytest.raises(WorkflowFailed) as failed:
            await handle.result(timeout=30)
    message = failed.value.error["message"]
    assert "the result of step 'make'" in message
    assert "the text at $.notes[1] contains a NUL character (U+0000) at index 1" in message


async def test_valid_unicode_round_trips_exactly_through_a_run(make_engine: MakeEngine) -> None:
    engine = make_engine()
    _registered(engine)
    value = {**NICE, NICE["rtl"]: [NICE["emoji"], {NICE["escaped"]: NICE["escaped"]}]}
    async with engine:
        handle = await engine.start("echo", value, run_id="run-" + NICE["emoji"])
        assert await handle.result(timeout=30) == value
    run = await engine.handle("run-" + NICE["emoji"]).info()
    assert run.input == [value] and run.output == value


async def test_a_stored_workflow_with_nul_in_its_document_is_refused(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine()
    document = {"name": "Greeter", "triggerEvent": "Customer.created",
                "steps": [{"action": "log", "mapping": {"message": "'hi\x00'"}}]}  # fmt: skip
    with pytest.raises(InvalidText) as refused:
        await engine.workflows.create("acme", document)
    assert refused.value.path == "$.steps[0].mapping.message"
    assert (await engine.workflows.find("acme")).items == []


# -- the command line -----------------------------------------------------------------------


def _plait(*args: str | bytes, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
    return subprocess.run([sys.executable, "-m", "plait", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_the_cli_refuses_non_utf8_arguments_and_nul_in_json_options(tmp_path: Path) -> None:
    listed = _plait("runs", "list", "--workflow", b"a\xed\xa0\x80", cwd=tmp_path)
    assert listed.returncode == 2
    assert "argument 4 (b'a\\xed\\xa0\\x80') is not UTF-8 text" in listed.stderr
    emitted = _plait("emit", "Deal.won", "--data", '{"deal": {"note": "\\u0000"}}', cwd=tmp_path)
    assert emitted.returncode == 2
    assert "--data: the text at $.deal.note contains a NUL character (U+0000)" in emitted.stderr
    (tmp_path / "input.json").write_text('["fine", "a\\u0000"]')
    triggered = _plait("workflows", "trigger", "w", "--input", "@input.json", cwd=tmp_path)
    assert triggered.returncode == 2 and "the text at $[1] contains a NUL" in triggered.stderr


async def test_the_store_refuses_bad_text_that_no_interface_checked_alike_on_both_backends(
    make_engine: MakeEngine,
) -> None:
    """A Python caller's filter or task assignee reaches the store unchecked by any interface:
    PostgreSQL would fail with its own error and SQLite would store or match it; the store's
    last check gives both the same InvalidText, naming the parameter, and stores nothing."""
    engine = make_engine()
    async with engine:
        with pytest.raises(InvalidText) as refused:
            await engine.list_runs(workflow="echo\x00")
        assert refused.value.path == "$.workflow"
        assert "NUL" in refused.value.reason
        with pytest.raises(InvalidText, match="lone surrogate"):
            await engine.list_runs(workflow="echo\udfff")
        assert (await engine.list_runs(workflow="echo😀")).items == []


async def test_a_step_result_with_nan_fails_the_step_naming_where(make_engine: MakeEngine) -> None:
    engine = make_engine()

    @engine.workflow("ratio")
    async def ratio(ctx: Context) -> Any:
        return await ctx.step("divide", lambda: {"ratio": float("nan")})

    async with engine:
        handle = await engine.start(ratio)
        with pytest.raises(WorkflowFailed) as failed:
            await handle.result(timeout=30)
    assert "the number at $.ratio is NaN, which JSON cannot hold" in str(failed.value)
    assert "divide" in str(failed.value)
