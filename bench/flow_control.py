"""What flow control costs when it does not bind (issue 16): the throughput of runs started
concurrently, with a concurrency key (a limit no key reaches), a start throttle and a rate
limit on a step (rates never reached) configured, and optionally a priority, against the
same workflow without them, alternating A and B so that both see the same machine.

    python bench/flow_control.py                       # SQLite
    python bench/flow_control.py --db postgresql://postgres@127.0.0.1:5432/test
    python bench/flow_control.py --concurrent 500 --repeat 3

Workload: bench/throughput.py's (a workflow of 3 no-op steps, ``--concurrent`` runs started at
once and awaited), on a fresh database per measurement. Prints medians, the ratio (keyed /
plain; the issue asks for at least 0.9), then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput import fresh_database, noop

from plait import Context, Engine, RateLimit

KEYED = {
    "concurrency": {"key": "'k' + string(input % 100)", "limit": 1000},
    "rate_limit": RateLimit(1_000_000, period=1.0, burst=1_000_000),
    "step_limit": RateLimit(1_000_000, period=1.0, burst=1_000_000, name="noop"),
}
"""100 keys, each with far more slots than its runs can ever take at once; a start throttle
and a rate limit on the first step (a million a second across workers), which never bind."""


def _engine(url: str, flow: dict[str, Any]) -> Engine:
    engine = Engine(url)
    step_limit = flow.get("step_limit")
    flow = {name: value for name, value in flow.items() if name != "step_limit"}

    @engine.workflow("three-steps", **flow)
    async def three_steps(ctx: Context, i: int) -> int:
        a = await ctx.step("one", noop, i, rate_limit=step_limit)
        b = await ctx.step("two", noop, a)
        return int(await ctx.step("three", noop, b))

    return engine


async def throughput(concurrent: int, flow: dict[str, Any], db: str | None) -> tuple[float, float]:
    """Runs per second of ``concurrent`` runs started at once, after a warm-up: per second of
    wall time, and per second of this process's CPU time (which the other processes of a
    shared machine disturb far less; on SQLite it is all of plait's work)."""
    with fresh_database(db) as url:
        async with _engine(url, flow) as engine:
            for i in range(20):
                await (await engine.start("three-steps", i)).result()
            started, cpu = time.perf_counter(), time.process_time()
            handles = await asyncio.gather(
                *[engine.start("three-steps", i) for i in range(concurrent)]
            )
            results = await asyncio.gather(*[h.result() for h in handles])
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu
            if results != list(range(concurrent)):
                raise AssertionError("wrong results")
    return concurrent / elapsed, concurrent / cpu


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", metavar="URL", help="a postgresql:// URL (default: SQLite)")
    parser.add_argument("--repeat", type=int, default=3, help="pairs of runs (medians reported)")
    parser.add_argument("--concurrent", type=int, default=1000)
    parser.add_argument("--priority", action="store_true", help="give the keyed runs priority 1")
    args = parser.parse_args()
    keyed = {**KEYED, **({"priority": 1} if args.priority else {})}
    plain: list[tuple[float, float]] = []
    flowed: list[tuple[float, float]] = []
    for _ in range(args.repeat):
        plain.append(await throughput(args.concurrent, {}, args.db))
        flowed.append(await throughput(args.concurrent, keyed, args.db))
    report: dict[str, Any] = {
        "backend": "postgresql" if args.db else "sqlite",
        "concurrent": args.concurrent,
        "plain_wf_per_s": statistics.median(r[0] for r in plain),
        "keyed_wf_per_s": statistics.median(r[0] for r in flowed),
        "plain_wf_per_cpu_s": statistics.median(r[1] for r in plain),
        "keyed_wf_per_cpu_s": statistics.median(r[1] for r in flowed),
    }
    report["ratio"] = report["keyed_wf_per_s"] / report["plain_wf_per_s"]
    report["cpu_ratio"] = report["keyed_wf_per_cpu_s"] / report["plain_wf_per_cpu_s"]
    for name in ("plain", "keyed"):
        print(f"{name}  {report[f'{name}_wf_per_s']:8,.0f} wf/s  "
              f"{report[f'{name}_wf_per_cpu_s']:8,.0f} wf/cpu-s")  # fmt: skip
    print(f"ratio  {report['ratio']:.3f} (wall)  {report['cpu_ratio']:.3f} (cpu)")
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main())
