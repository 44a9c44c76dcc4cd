"""Per-step overhead of a declarative workflow compared with the same workflow in code.

    python bench/definitions.py [--repeat 3] [--runs 200] [--concurrent 200]

Both workflows have 20 steps calling the same no-op async action; the declarative one is a
canonical definition whose steps each depend on the previous one and pass the previous output
through a template (``{{ sN }}``), so templates are rendered on every step. Reports sequential
start-to-result latency, concurrent throughput, the per-step overhead of each and their ratio
(target: declarative within 1.5x of code). Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from typing import Any

from plait import Context, Engine

STEPS = 20


async def noop(value: Any) -> Any:
    return value


def _definition() -> dict[str, Any]:
    steps: list[dict[str, Any]] = [{"kind": "action", "id": "s0", "action": "noop",
                                    "input": "{{ input }}"}]  # fmt: skip
    for i in range(1, STEPS):
        steps.append({"kind": "action", "id": f"s{i}", "action": "noop",
                      "input": f"{{{{ s{i - 1} }}}}", "depends_on": [f"s{i - 1}"]})  # fmt: skip
    return {"name": "declared", "dialect": "canonical", "steps": steps,
            "output": f"{{{{ s{STEPS - 1} }}}}"}  # fmt: skip


def _engine(directory: str) -> Engine:
    engine = Engine(f"sqlite:///{directory}/bench.db")
    engine.action("noop")(noop)
    engine.define(_definition())

    @engine.workflow("coded")
    async def coded(ctx: Context, value: Any) -> Any:
        for i in range(STEPS):
            value = await ctx.step(f"s{i}", noop, value)
        return value

    return engine


async def _measure(engine: Engine, name: str, runs: int, concurrent: int) -> dict[str, float]:
    for i in range(10):
        assert await (await engine.start(name, i)).result() == i
    latencies = []
    for i in range(runs):
        started = time.perf_counter()
        await (await engine.start(name, i)).result()
        latencies.append(time.perf_counter() - started)
    started = time.perf_counter()
    handles = await asyncio.gather(*[engine.start(name, i) for i in range(concurrent)])
    assert await asyncio.gather(*[h.result() for h in handles]) == list(range(concurrent))
    elapsed = time.perf_counter() - started
    p50 = statistics.median(latencies)
    return {
        "seq_p50_ms": p50 * 1000,
        "per_step_us": p50 / STEPS * 1e6,
        "concurrent_wf_per_s": concurrent / elapsed,
        "concurrent_steps_per_s": concurrent * STEPS / elapsed,
    }


async def once(runs: int, concurrent: int) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory(dir=os.environ.get("PLAIT_BENCH_DIR")) as directory:
        async with _engine(directory) as engine:
            return {
                "code": await _measure(engine, "coded", runs, concurrent),
                "declarative": await _measure(engine, "declared", runs, concurrent),
            }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--concurrent", type=int, default=200)
    args = parser.parse_args()
    samples = [await once(args.runs, args.concurrent) for _ in range(args.repeat)]
    report: dict[str, Any] = {"steps": STEPS, "repeat": args.repeat}
    for kind in ("code", "declarative"):
        report[kind] = {k: statistics.median(s[kind][k] for s in samples) for k in samples[0][kind]}
    report["ratio_per_step"] = report["declarative"]["per_step_us"] / report["code"]["per_step_us"]
    report["ratio_throughput"] = (
        report["code"]["concurrent_wf_per_s"] / report["declarative"]["concurrent_wf_per_s"]
    )
    print(f"{STEPS}-step workflow, median of {args.repeat} runs")
    print(f"{'metric':<30}{'code':>12}{'declarative':>14}{'ratio':>9}")
    for label, key in (("sequential p50 (ms)", "seq_p50_ms"), ("per step (us)", "per_step_us"),
                       ("concurrent (wf/s)", "concurrent_wf_per_s")):  # fmt: skip
        mine, theirs = report["code"][key], report["declarative"][key]
        ratio = theirs / mine if key != "concurrent_wf_per_s" else mine / theirs
        print(f"{label:<30}{mine:>12.2f}{theirs:>14.2f}{ratio:>8.2f}x")
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main())
