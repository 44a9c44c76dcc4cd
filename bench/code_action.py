"""Cost of a code action: one call to a warm worker, and what the pool costs to start.

    python bench/code_action.py
    python bench/code_action.py --calls 2000 --size 4

Figures: the start time of a pool of ``--size`` workers (median of ``--repeat`` starts); the
latency of ``return input['x'] + 1`` on a warm worker, p50 and p99 over ``--calls`` sequential
calls after a warm-up (the compiled code is cached in the worker); the same with code that
differs on every call (so it is compiled each time); throughput with ``--size`` calls in flight;
and the time to get a fresh worker after a timeout killed one. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import time
from typing import Any

from plait.actions.code import CodeActionError, CodePool

CODE = "return input['x'] + 1"


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def start_ms(size: int, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        pool = CodePool(size)
        began = time.perf_counter()
        await pool.start()
        samples.append((time.perf_counter() - began) * 1000)
        await pool.close()
    return statistics.median(samples)


async def latencies_ms(pool: CodePool, calls: int, *, vary: bool) -> list[float]:
    samples = []
    for i in range(calls):
        code = f"{CODE}  # {i}" if vary else CODE
        began = time.perf_counter()
        assert await pool.run(code, input={"x": i}) == i + 1
        samples.append((time.perf_counter() - began) * 1000)
    return samples


async def throughput(pool: CodePool, calls: int) -> float:
    began = time.perf_counter()
    await asyncio.gather(*(pool.run(CODE, input={"x": i}) for i in range(calls)))
    return calls / (time.perf_counter() - began)


async def replacement_ms(repeat: int) -> float:
    """From a call timing out to the next call's result, on a single worker."""
    samples = []
    async with CodePool(1) as pool:
        for _ in range(repeat):
            with contextlib.suppress(CodeActionError):
                await pool.run("while True:\n    pass", timeout=0.05)
            began = time.perf_counter()
            await pool.run(CODE, input={"x": 0})
            samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=500, help="timed calls per figure")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--size", type=int, default=2, help="workers in the pool")
    parser.add_argument("--repeat", type=int, default=5, help="pool starts and replacements")
    args = parser.parse_args()

    report: dict[str, Any] = {"size": args.size, "calls": args.calls}
    report["start_ms"] = await start_ms(args.size, args.repeat)
    async with CodePool(args.size) as pool:
        await latencies_ms(pool, args.warmup, vary=False)
        warm = await latencies_ms(pool, args.calls, vary=False)
        fresh = await latencies_ms(pool, args.calls, vary=True)
        report["call_p50_ms"] = statistics.median(warm)
        report["call_p99_ms"] = _percentile(warm, 0.99)
        report["uncached_p50_ms"] = statistics.median(fresh)
        report["uncached_p99_ms"] = _percentile(fresh, 0.99)
        report["calls_per_s"] = await throughput(pool, args.calls)
    report["replacement_ms"] = await replacement_ms(args.repeat)
    _print_table(report)
    print(json.dumps(report))


def _print_table(report: dict[str, Any]) -> None:
    rows = [
        (f"pool start, {report['size']} workers (ms)", "start_ms", "{:.1f}"),
        ("call p50 (ms)", "call_p50_ms", "{:.3f}"),
        ("call p99 (ms)", "call_p99_ms", "{:.3f}"),
        ("call p50, code not cached (ms)", "uncached_p50_ms", "{:.3f}"),
        ("call p99, code not cached (ms)", "uncached_p99_ms", "{:.3f}"),
        (f"throughput, {report['size']} in flight (calls/s)", "calls_per_s", "{:,.0f}"),
        ("fresh worker after a timeout (ms)", "replacement_ms", "{:.1f}"),
    ]
    print(f"code action: {CODE!r}, {report['calls']} calls per figure")
    for label, key, fmt in rows:
        print(f"{label:<40}{fmt.format(report[key]):>12}")


if __name__ == "__main__":
    asyncio.run(main())
