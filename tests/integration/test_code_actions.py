"""Code actions: user Python in RestrictedPython, run by a pool of limited worker processes.

Every failure test ends with a call that succeeds: the pool must keep serving.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from plait.actions.code import CodeActionError, CodePool

# Busy work that takes `seconds` of wall-clock time and reports when it ran.
BUSY = """
start = datetime.datetime.now().timestamp()
while datetime.datetime.now().timestamp() - start < input:
    pass
return [start, datetime.datetime.now().timestamp()]
"""


@pytest.fixture
async def pool() -> AsyncIterator[CodePool]:
    async with CodePool(size=2, timeout=2) as pool:
        yield pool


@pytest.fixture
async def one() -> AsyncIterator[CodePool]:
    """A single worker, so that the call after a failure runs on the replacement."""
    async with CodePool(size=1, timeout=1) as pool:
        yield pool


async def refusal(pool: CodePool, code: str, **kwargs: Any) -> str:
    with pytest.raises(CodeActionError) as caught:
        await pool.run(code, **kwargs)
    return caught.value.reason


async def still_serves(pool: CodePool) -> None:
    assert await pool.run("return input + 1", input=41) == 42


# -- what the code can do ----------------------------------------------------------------------


async def test_a_top_level_return_is_the_result(pool: CodePool) -> None:
    assert await pool.run("return input['x'] + 1", input={"x": 1}) == 2


async def test_assigning_result_is_the_result_and_neither_gives_none(pool: CodePool) -> None:
    assert await pool.run("result = [n * n for n in input]", input=[1, 2, 3]) == [1, 4, 9]
    assert await pool.run("x = 1") is None


async def test_the_code_sees_input_context_and_outputs(pool: CodePool) -> None:
    code = "return {'who': context['org'], 'total': input['n'] + outputs['fetch']['n']}"
    value = await pool.run(
        code, input={"n": 1}, context={"org": "acme"}, outputs={"fetch": {"n": 2}}
    )
    assert value == {"who": "acme", "total": 3}


async def test_json_math_datetime_and_re_are_available(pool: CodePool) -> None:
    code = """
day = datetime.datetime.strptime(input['day'], '%Y-%m-%d') + datetime.timedelta(days=1)
return {
    'parsed': json.loads(input['doc'])['a'],
    'root': math.sqrt(16),
    'next_day': day.date().isoformat(),
    'words': re.findall(r'[a-z]+', 'Hello big world'),
    'when': day,
}
"""
    value = await pool.run(code, input={"doc": '{"a": [1]}', "day": "2024-02-28"})
    assert value == {
        "parsed": [1],
        "root": 4.0,
        "next_day": "2024-02-29",
        "words": ["ello", "big", "world"],
        "when": "2024-02-29T00:00:00",  # datetimes come back as ISO 8601, as everywhere in plait
    }


async def test_everyday_python_works(pool: CodePool) -> None:
    code = """
counts = {}
for word in input:
    counts[word] = counts.get(word, 0)
    counts[word] += 1
pairs = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
first, *rest = [k for k, _ in pairs]
print('top', first)
return {'top': first, 'rest': rest, 'n': len(rest), 'printed': printed}
"""
    value = await pool.run(code, input=["b", "a", "b", "c"])
    assert value == {"top": "b", "rest": ["a", "c"], "n": 2, "printed": "top b\n"}


async def test_calls_share_no_state(one: CodePool) -> None:
    await one.run("global leaked\nleaked = 1\nreturn 0")
    assert "NameError" in await refusal(one, "return leaked")


# -- limits and the wall clock -----------------------------------------------------------------


async def test_an_infinite_loop_is_stopped_and_the_worker_replaced(one: CodePool) -> None:
    before = one.pids
    started = time.monotonic()
    assert await refusal(one, "while True:\n    pass") == (
        "timed out after 1s (setting code_timeout_seconds, environment variable "
        "PLAIT_CODE_TIMEOUT_SECONDS)"
    )
    assert time.monotonic() - started < 1.5
    await still_serves(one)
    assert one.pids != before


async def test_a_per_call_timeout_overrides_the_pools(pool: CodePool) -> None:
    assert await refusal(pool, "while True:\n    pass", timeout=0.3) == "timed out after 0.3s"
    await still_serves(pool)


async def test_the_cpu_limit_stops_a_call_the_wall_clock_would_allow() -> None:
    async with CodePool(size=1, timeout=10, cpu_seconds=1) as pool:
        started = time.monotonic()
        reason = await refusal(pool, "while True:\n    pass")
        assert reason == (
            "CPU time limit exceeded: 1s (setting code_cpu_seconds, environment variable "
            "PLAIT_CODE_CPU_SECONDS)"
        )
        assert time.monotonic() - started < 6  # 1-2 s of CPU (whole seconds, on top of use)
        await still_serves(pool)


@pytest.mark.parametrize("code", ["return 'x' * 10**9", "return [0] * 10**9"])
async def test_a_huge_allocation_hits_the_memory_limit(one: CodePool, code: str) -> None:
    assert await refusal(one, code) == (
        "memory limit exceeded: 256 MB (setting code_memory_mb, environment variable "
        "PLAIT_CODE_MEMORY_MB)"
    )
    await still_serves(one)


async def test_a_result_over_the_output_limit_is_refused() -> None:
    async with CodePool(size=1, max_output_bytes=1000) as pool:
        reason = await refusal(pool, "return 'x' * 2000")
        assert reason.startswith("the result is too large: 20")
        assert reason.endswith(
            "bytes; the limit is 1000 bytes (setting code_max_output_bytes, environment "
            "variable PLAIT_CODE_MAX_OUTPUT_BYTES)"
        )
        await still_serves(pool)


async def test_a_worker_killed_mid_call_is_replaced(one: CodePool) -> None:
    (pid,) = one.pids
    call = asyncio.create_task(one.run(BUSY, input=5, timeout=10))
    await asyncio.sleep(0.2)
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(CodeActionError) as caught:
        await call
    assert caught.value.reason == "worker died: killed by SIGKILL"
    await still_serves(one)


async def test_a_cancelled_call_leaves_a_fresh_worker(one: CodePool) -> None:
    before = one.pids
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(one.run(BUSY, input=5, timeout=10), 0.2)
    await still_serves(one)
    assert one.pids != before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
async def test_workers_run_with_os_limits(one: CodePool) -> None:
    (pid,) = one.pids
    limits = _proc(pid, "limits")
    assert _limit(limits, "Max address space") == str(256 * 1024 * 1024)
    assert _limit(limits, "Max file size") == "0"
    assert _limit(limits, "Max processes") == "0"
    assert _limit(limits, "Max core file size") == "0"
    if os.geteuid() == 0:  # root ignores RLIMIT_NPROC: the worker must have dropped to nobody
        status = _proc(pid, "status")
        uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
        assert "0" not in uid_line.split()[1:]


def _proc(pid: int, name: str) -> str:
    return Path(f"/proc/{pid}/{name}").read_text()


def _limit(table: str, name: str) -> str:
    line = next(line for line in table.splitlines() if line.startswith(name))
    return line[len(name) :].split()[0]  # the soft limit


# -- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "module"),
    [
        ("import os", "os"),
        ("import subprocess as sp", "subprocess"),
        ("from os import path", "os"),
        ("from . import secrets", "."),
        ("__import__('os')", "os"),
    ],
)
async def test_imports_are_refused_naming_the_module(
    pool: CodePool, code: str, module: str
) -> None:
    assert await refusal(pool, code) == f"import of {module!r} is not allowed (line 1)"
    await still_serves(pool)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("return ().__class__.__bases__", "attribute '__bases__' is not allowed"),
        ("return (x for x in []).gi_frame", "attribute 'gi_frame' is not allowed"),
        ("return (lambda: 1).__globals__", "attribute '__globals__' is not allowed"),
        ("return '{0.__class__}'.format(1)", "str.format is not allowed"),
        ("return str.format('{0.__class__}', 1)", "str.format is not allowed"),
        ("return '{x.__class__}'.format_map({'x': 1})", "str.format_map is not allowed"),
        ("return getattr('{0.__class__}', 'format')(1)", "str.format is not allowed"),
        ("return getattr(1, '__class__')", "attribute '__class__' is not allowed"),
        ("g = (x for x in [])\nreturn getattr(g, 'gi_frame')", "attribute 'gi_frame' is not"),
        ("return __builtins__", "name '__builtins__' is not allowed"),
        ("return _getattr_", "name '_getattr_' is not allowed"),
        ("return type(1)", "type() is not allowed"),
        ("return vars()", "vars() is not allowed"),
        ("return globals()", "globals() is not allowed"),
        ("class Escape:\n    pass", "class statements are not allowed"),
        ("json.loads = None", "modules are read-only"),
        ("return eval('1')", "Eval calls are not allowed"),
        ("try:\n    pass\nexcept* ValueError:\n    pass", "try/except* is not allowed"),
    ],
)
async def test_escapes_are_refused_with_a_clear_reason(
    pool: CodePool, code: str, reason: str
) -> None:
    assert reason in await refusal(pool, code)
    await still_serves(pool)


async def test_reading_files_is_refused(pool: CodePool) -> None:
    assert await refusal(pool, "return open('/etc/passwd').read()") == (
        "file access is not allowed (line 1)"
    )
    await still_serves(pool)


async def test_a_syntax_error_names_its_line(pool: CodePool) -> None:
    reason = await refusal(pool, "x = 1\ny = 2\nz = (")
    assert reason == "SyntaxError: '(' was never closed (line 3)"
    await still_serves(pool)


async def test_an_exception_names_its_type_and_line(pool: CodePool) -> None:
    reason = await refusal(pool, "x = 1\nif x:\n    raise ValueError('bad input')")
    assert reason == "ValueError: bad input (line 3)"
    assert await refusal(pool, "return input['nope']", input={}) == "KeyError: 'nope' (line 1)"
    assert await refusal(pool, "raise SystemExit(3)") == "SystemExit: 3 (line 1)"
    await still_serves(pool)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("return {1, 2}", "a value of type set"),
        ("return datetime.timedelta(days=1)", "a value of type timedelta"),
        ("return {1: 'a'}", "a dict key of type int"),
        ("return [1, [re.compile('x')]]", "a value of type Pattern"),
    ],
)
async def test_a_result_that_is_not_json_names_the_type(
    pool: CodePool, code: str, reason: str
) -> None:
    assert await refusal(pool, code) == f"the result is not JSON: {reason}"


async def test_an_input_that_is_not_json_is_refused_before_running(pool: CodePool) -> None:
    assert await refusal(pool, "return 1", input={"a": object()}) == "input is not JSON: object"


# -- the pool ----------------------------------------------------------------------------------


async def test_a_pool_of_two_runs_four_calls_in_two_batches(pool: CodePool) -> None:
    spans = await asyncio.gather(*(pool.run(BUSY, input=0.3) for _ in range(4)))
    # The calls' own clocks, not the test's, so that a loaded machine cannot blur the batches:
    # two calls ran at once, and never more than two.
    running = [sum(1 for s, e in spans if s <= start < e) for start, _ in spans]
    assert max(running) == 2, spans


async def test_start_is_idempotent_and_a_closed_pool_refuses_calls() -> None:
    pool = CodePool(size=1)
    await pool.start()
    pids = pool.pids
    await pool.start()
    assert pool.pids == pids
    await pool.close()
    assert pool.pids == []
    assert await refusal(pool, "return 1") == "the code pool is closed"


async def test_a_pool_that_cannot_start_says_why_and_leaves_nothing_running(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("plait.actions.code.pool._SANDBOX", tmp_path / "missing.py")
    pool = CodePool(size=2)
    reason = await refusal(pool, "return 1")
    assert reason.startswith("code workers failed to start: worker died: exit code 2")
    assert "missing.py" in reason
    assert pool.pids == []
    await pool.close()


async def test_close_kills_a_call_in_flight() -> None:
    pool = CodePool(size=1)
    await pool.start()
    call = asyncio.create_task(pool.run(BUSY, input=5, timeout=10))
    await asyncio.sleep(0.2)
    await pool.close()
    with pytest.raises(CodeActionError, match="closed"):
        await call
    assert pool.pids == []


async def test_a_graph_code_node_sees_the_workflow_context_and_earlier_outputs(
    tmp_path: Path,
) -> None:
    from plait import Engine

    engine = Engine(f"sqlite:///{tmp_path / 'graph.db'}")
    workflow = engine.define({
        "metadata": {"name": "thresholds"},
        "context": {"minimum": 5},
        "nodes": [
            {"id": "start", "type": "trigger", "name": "Manual"},
            {"id": "count", "type": "action", "config": {"code": "return len(input['items'])"}},
            {"id": "check", "type": "action", "config": {
                "code": "result = {'low': outputs['count'] < context['minimum'],"
                        " 'step': context['step']}"}},
        ],
        "edges": [{"source": "start", "target": "count"}, {"source": "count", "target": "check"}],
    })  # fmt: skip
    async with engine:
        handle = await engine.start(workflow, {"items": [1, 2, 3]})
        output = await handle.result(timeout=20)
    assert output["check"] == {"low": True, "step": "check"}
