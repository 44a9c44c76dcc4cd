"""What flow control costs when it does not bind (issue 16): the throughput of runs started
concurrently, with a concurrency key (a limit no key reaches), a start throttle and a rate
limit on a step (rates never reached) configured, and optionally a priority, against the
same workflow without them, the arms rotated so that each sees the same machine.

    python bench/flow_control.py                       # SQLite
    python bench/flow_control.py --db postgresql://postgres@127.0.0.1:5432/test
    python bench/flow_control.py --concurrent 500 --repeat 3

Workload: bench/throughput.py's (a workflow of 3 no-op steps, ``--concurrent`` runs started at
once and awaited), on a fresh database per measurement. Prints medians and each arm's ratio to
the plain one (the issue asks for at least 0.9 with a key and a rate limit), then one JSON line.
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


ARMS = ("plain", "keyed", "keyed+step")
"""The workload without flow control; with a concurrency key and a start throttle (the
issue's "a concurrency key and a rate limit"); and with a rate limit on its first step too."""


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", metavar="URL", help="a postgresql:// URL (default: SQLite)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of the arms (medians)")
    parser.add_argument("--concurrent", type=int, default=1000)
    parser.add_argument("--priority", action="store_true", help="give the keyed runs priority 1")
    args = parser.parse_args()
    keyed = {name: value for name, value in KEYED.items() if name != "step_limit"}
    keyed |= {"priority": 1} if args.priority else {}
    flows: dict[str, dict[str, Any]] = {"plain": {}, "keyed": keyed, "keyed+step": KEYED | keyed}
    rounds: dict[str, list[tuple[float, float]]] = {arm: [] for arm in ARMS}
    for r in range(args.repeat):  # rotated, so the machine's drift falls on each arm
        for arm in ARMS[r % len(ARMS) :] + ARMS[: r % len(ARMS)]:
            rounds[arm].append(await throughput(args.concurrent, dict(flows[arm]), args.db))
    report: dict[str, Any] = {"backend": "postgresql" if args.db else "sqlite",
                              "concurrent": args.concurrent, "repeat": args.repeat}  # fmt: skip
    for arm, found in rounds.items():
        report[arm] = {"wf_per_s": statistics.median(x[0] for x in found),
                       "wf_per_cpu_s": statistics.median(x[1] for x in found)}  # fmt: skip
    plain = report["plain"]
    print(f"flow control on {report['backend']}, {args.concurrent:,} concurrent runs, "
          f"median of {args.repeat} rounds")  # fmt: skip
    print(f"{'arm':<12}{'wf/s':>9}{'of plain':>10}{'wf/cpu-s':>10}{'of plain':>10}")
    for arm in ARMS:
        m = report[arm]
        m["ratio"] = m["wf_per_s"] / plain["wf_per_s"]
        m["cpu_ratio"] = m["wf_per_cpu_s"] / plain["wf_per_cpu_s"]
        print(f"{arm:<12}{m['wf_per_s']:>9,.0f}{m['ratio']:>10.3f}"
              f"{m['wf_per_cpu_s']:>10,.0f}{m['cpu_ratio']:>10.3f}")  # fmt: skip
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main())
