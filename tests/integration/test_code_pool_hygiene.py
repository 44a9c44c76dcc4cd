"""Each code action call starts clean, dates format, and a result JSON cannot hold is refused.

A single worker serves every call here, so whatever one call leaves behind, the next one sees.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from plait import Engine, WorkflowFailed
from plait.actions.code import CodeActionError, CodePool, CodeRefused, sandbox
from plait.resources.reports import RunReport


@pytest.fixture
async def one() -> AsyncIterator[CodePool]:
    async with CodePool(size=1, timeout=5) as pool:
        yield pool


async def reason(pool: CodePool, code: str) -> str:
    with pytest.raises(CodeActionError) as caught:
        await pool.run(code)
    return caught.value.reason


# -- fresh state per call ----------------------------------------------------------------------


async def test_a_seed_set_by_one_call_does_not_fix_the_next_calls_numbers(one: CodePool) -> None:
    draws = "return [random.random(), random.randint(1, 10**9), random.choice(range(10**9))]"
    for seed in (42, 7):
        seeded = random.Random(seed)
        predicted = [seeded.random(), seeded.randint(1, 10**9), seeded.choice(range(10**9))]
        assert await one.run(f"random.seed({seed})\n" + draws) == predicted  # its own call
        await one.run(f"random.seed({seed})\nreturn 0")
        assert await one.run(draws) != predicted  # ...and not the next call's


async def test_every_call_gets_an_independent_unseeded_generator(one: CodePool) -> None:
    draws = [await one.run("return random.getrandbits(64)") for _ in range(5)]
    assert len(set(draws)) == 5
    shuffled = await one.run("items = list(range(50))\nrandom.shuffle(items)\nreturn items")
    assert sorted(shuffled) == list(range(50)) and shuffled != list(range(50))
    assert "getstate" in await reason(one, "return random.getstate()")


async def test_module_level_state_a_call_sets_is_gone_in_the_next(one: CodePool) -> None:
    await one.run("global leaked\nleaked = 1\nreturn 0")
    assert "NameError" in await reason(one, "return leaked")
    for code in ("random.random = len", "json.dumps = str", "datetime.MINYEAR = 5"):
        assert "modules are read-only" in await reason(one, code)
    assert await one.run("return [datetime.MINYEAR, json.dumps(1), len(string.digits)]") == [
        1, "1", 10,
    ]  # fmt: skip


# -- dates -------------------------------------------------------------------------------------


async def test_garbage_a_call_leaves_is_collected_on_its_own_budget_not_the_nexts() -> None:
    """A generator in a reference cycle whose ``finally`` spins would run whenever the worker
    next collects garbage: during another organization's call, on that call's budget."""
    plant = """
def spin():
    try:
        yield 1
    finally:
        n = 0
        for i in range(10**9):
            n += i
held = spin()
next(held)
cycle = [held]
cycle.append(cycle)
return 1
"""
    async with CodePool(size=1, timeout=10, cpu_seconds=1) as pool:
        with pytest.raises(CodeActionError, match="CPU time limit exceeded"):
            await pool.run(plant, org="evil")
        busy = "x = [[i] for i in range(5000)]\nreturn len(x)"
        for _ in range(2):
            assert await pool.run(busy, org="victim") == 5000


async def test_dates_format_with_strftime_f_strings_and_isoformat(one: CodePool) -> None:
    code = """
d = datetime.datetime(2024, 2, 29, 13, 5, tzinfo=datetime.timezone.utc)
return {
    'strftime': d.strftime('%Y-%m-%d %H:%M %Z'),
    'date': d.date().strftime('%d/%m/%Y'),
    'fstring': f'{d:%Y} {d.date():%b %d}',
    'time': f'{d.time():%H.%M}',
    'iso': d.date().isoformat(),
    'parsed': datetime.datetime.strptime('2024-03-01', '%Y-%m-%d').isoformat(),
    'tuple': d.timetuple()[0],
    'today': len(datetime.date.today().isoformat()),
}
"""
    assert await one.run(code) == {
        "strftime": "2024-02-29 13:05 UTC",
        "date": "29/02/2024",
        "fstring": "2024 Feb 29",
        "time": "13.05",
        "iso": "2024-02-29",
        "parsed": "2024-03-01T00:00:00",
        "tuple": 2024,
        "today": 10,
    }


async def test_date_formatting_gives_the_code_no_way_to_import(one: CodePool) -> None:
    for code, refused in [
        ("__import__('os')", "import of 'os' is not allowed"),
        ("return __builtins__['__import__']", "name '__builtins__' is not allowed"),
        ("return getattr(datetime, '__import__')", "attribute '__import__' is not allowed"),
    ]:
        with pytest.raises(CodeRefused) as caught:
            await one.run(code)
        assert refused in caught.value.reason
    assert await one.run("return datetime.date(2024, 1, 2).strftime('%Y')") == "2024"


# -- values JSON cannot hold ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("return float('nan')", "result is NaN, which JSON cannot hold"),
        ("return {'ratio': 0 * float('inf')}", 'result["ratio"] is NaN, which JSON cannot hold'),
        ("return [1, 2, float('inf')]", "result[2] is Infinity, which JSON cannot hold"),
        (
            "result = {'a': [{'b': -float('inf')}]}",
            'result["a"][0]["b"] is -Infinity, which JSON cannot hold',
        ),
        ("return {'x': (1, math.nan)}", 'result["x"][1] is NaN, which JSON cannot hold'),
    ],
)
async def test_nan_and_infinity_in_a_result_fail_naming_where(
    one: CodePool, code: str, message: str
) -> None:
    assert await reason(one, code) == message
    assert await one.run("return {'ok': None, 'n': 1.5}") == {"ok": None, "n": 1.5}


async def test_an_engines_code_step_over_a_limit_names_the_setting(tmp_path: Path) -> None:
    engine = Engine(f"sqlite:///{tmp_path / 'limits.db'}", code_max_output_bytes=100)
    workflow = engine.define({
        "name": "big", "dialect": "canonical", "on_error": "continue",
        "steps": [{"kind": "action", "id": "big", "action": "code",
                   "input": {"code": "return 'x' * 200"}}],
    })  # fmt: skip
    async with engine:
        handle = await engine.start(workflow)
        with pytest.raises(WorkflowFailed, match="NoStepSucceeded"):  # its one step failed
            await handle.result(timeout=30)
        report = RunReport.of(await engine.handle(handle.id).info()).wire()
    message = report["steps"]["big"]["error"]["message"]
    assert message.startswith("code action failed: the result is too large: 2")
    assert message.endswith(
        "bytes; the limit is 100 bytes (setting code_max_output_bytes, environment variable "
        "PLAIT_CODE_MAX_OUTPUT_BYTES)"
    )


def test_the_sandboxs_import_hands_out_only_what_datetime_needs() -> None:
    assert sandbox.c_import("time", {}, {}, ["__doc__"], 0).__name__ == "time"
    for name, level in [("os", 0), ("subprocess", 0), ("time", 1), ("_strptime.os", 0)]:
        with pytest.raises(sandbox.AccessDenied, match="is not allowed"):
            sandbox.c_import(name, None, None, (), level)
