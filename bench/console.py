"""Server time of the console's busiest pages on 1,000,000 runs in SQLite.

    python bench/console.py [--runs 1000000] [--requests 200] [--repeat 3] [--fresh] [--explain]

The database is made once and kept (``$PLAIT_BENCH_DIR`` or the temporary directory, named
after the run count and this script's data version), so a rerun only measures; migrations
added since are applied when it is opened, as an upgrade would (``--fresh`` makes it again).
Making it:

1. an engine with its worker runs real seed runs of a dozen workflows defined as an operator
   would (steps of built-in actions, a human task, a step that fails, a sleep): succeeded,
   failed, waiting on a person or a timer, cancelled; their rows are what plait writes;
2. the seeds are cloned with bulk SQL (this benchmark's only direct SQL) into ``--runs`` runs,
   spread evenly over the last 30 days (about 23 a minute, 33,000 a day), with statuses in a
   realistic mix (86% succeeded, 8% failed, 2% cancelled, 3% waiting, 0.5% running, 0.5%
   pending), a fresh input per run (a customer, an amount, an order), durations from 50 ms to
   minutes, the steps of one run in ten, and the open task of each run waiting on a person;
   the workflows' counters are set from the runs, as the store keeps them;
3. one more run, succeeded with 10,000 recorded steps, for the run page (added to a kept
   database that lacks it).

Measuring: the app of ``plait serve`` in process (``create_app``, no worker), a session signed
in through the sign-in form, and ``--repeat`` rounds of ``--requests`` requests of each page
taken in turn (a few warm-up requests first); p50 and p95 are the medians of the rounds'.
Server time is the time the ASGI app takes to answer, from the request to the last byte of the
body. Pages: the runs page, the runs page filtered by workflow and status, its second page (the
keyset cursor of the first), and the overview, each with the 100 ms budget at p95; the page of
the run of 10,000 steps with a budget of one second; a search by an input field, the workflows
page, a workflow's page and the inbox for information. Prints a table, then one JSON line.
``--explain`` prints the statements of each page with their time alone and their query plans.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import re
import sqlite3
import statistics
import string
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import orjson

from plait import Engine
from plait.api import create_app
from plait.resources.runs import Run
from plait.testing import assert_eventually

DATA_VERSION = 3
"""Bump when the generated data changes shape (a cached database of another version is not used)."""

ORG = "acme"
BUDGET_MS = 100.0
LONG_RUN = "run_bench10000steps"
LONG_RUN_STEPS = 10_000
LONG_RUN_BUDGET_MS = 1000.0
"""A run of 10,000 steps opens in under a second (issue 14): its page's server time."""
DAYS = 30
SEEDS_PER_WORKFLOW = 8
STEPS_FRACTION = 0.10
MIX = {"succeeded": 0.86, "failed": 0.08, "cancelled": 0.02, "waiting": 0.03,
       "running": 0.005, "pending": 0.005}  # fmt: skip

CUSTOMERS = [
    "Ada",
    "Grace",
    "Linus",
    "Barbara",
    "Alan",
    "Margaret",
    "Dennis",
    "Frances",
    "Ken",
    "Radia",
    "Edsger",
    "Hedy",
    "John",
    "Katherine",
    "Niklaus",
    "Sophie",
]


def _quick(name: str, trigger: str, steps: int) -> dict[str, Any]:
    """A workflow of ``steps`` steps of built-in actions, one after another."""
    made: list[dict[str, Any]] = [
        {"id": "note", "type": "function", "function": "log",
         "input": {"message": "{{ 'Handling ' + input.customer }}"}},
    ]  # fmt: skip
    for n in range(1, steps):
        made.append({"id": f"record-{n}", "type": "function", "function": "Activity.create",
                     "dependsOn": [made[-1]["id"]],
                     "input": {"customer": "{{ input.customer }}", "n": n}})  # fmt: skip
    made.append({"id": "check-invoice", "type": "function", "function": "Invoice.get",
                 "condition": "input.fail", "dependsOn": [made[-1]["id"]],
                 "input": {"$id": "{{ input.invoice }}"},
                 "retryPolicy": {"maxAttempts": 1}})  # fmt: skip
    return {"name": name, "triggerEvent": trigger, "steps": made}


WORKFLOWS: list[dict[str, Any]] = [
    _quick("customer-onboarding", "Customer.created", 4),
    _quick("welcome-email", "Customer.created", 2),
    _quick("order-fulfillment", "Order.placed", 6),
    _quick("inventory-reorder", "Stock.low", 3),
    _quick("deal-won", "Deal.won", 3),
    _quick("content-production", "Brief.approved", 5),
    _quick("nightly-report", "Report.due", 2),
    _quick("support-triage", "Ticket.opened", 3),
    {"name": "invoice-sync", "triggerEvent": "Invoice.sent",
     "steps": [{"id": "fetch", "type": "function", "function": "Invoice.get",
                "input": {"$id": "{{ input.invoice }}"}, "retryPolicy": {"maxAttempts": 1}}]},
    {"name": "expense-approval", "triggerEvent": "Expense.submitted",
     "steps": [{"id": "approve", "type": "human-task", "assignTo": "input.owner",
                "title": "{{ 'Approve expense ' + input.order }}", "timeout": "30d",
                "choices": ["approve", "reject"], "data": {"amount": "{{ input.amount }}"}},
               {"id": "book", "type": "function", "function": "log", "dependsOn": ["approve"],
                "input": {"message": "{{ approve.decision }}"}}]},
    {"name": "trial-follow-up", "triggerEvent": "Trial.started",
     "steps": [{"id": "wait", "type": "sleep", "duration": "30d"},
               {"id": "nudge", "type": "function", "function": "log", "dependsOn": ["wait"],
                "input": {"message": "{{ 'Follow up ' + input.customer }}"}}]},
    _quick("payment-retry", "Payment.failed", 2),
]  # fmt: skip
FILTERED = ("invoice-sync", "failed")
"""The filtered runs page: one workflow's runs of one status."""


# -- the database ---------------------------------------------------------------------------------


def database_path(runs: int) -> Path:
    directory = Path(os.environ.get("PLAIT_BENCH_DIR") or tempfile.gettempdir())
    return directory / f"plait-console-bench-{runs}-v{DATA_VERSION}.db"


def _input(rng: random.Random, n: int) -> dict[str, Any]:
    return {"customer": f"{rng.choice(CUSTOMERS)} {n}", "amount": rng.randint(5, 5000),
            "order": f"ORD-{n:07d}", "invoice": f"invoice_{n:07d}", "owner": "ann",
            "fail": n % 4 == 3}  # fmt: skip


async def seed(url: str) -> None:
    """Real runs of every workflow, by a real worker: the rows the clones copy."""
    rng = random.Random(7)
    logging.getLogger("plait").setLevel(logging.ERROR)  # the seeds that fail are meant to
    engine = Engine(url)
    try:
        await engine.keys.create(ORG, "admin")
        for definition in WORKFLOWS:
            await engine.workflows.create(ORG, definition)
            await engine.workflows.activate(ORG, definition["name"])
        await engine.start_worker()
        started = [await engine.workflows.trigger(ORG, d["name"], _input(rng, n))
                   for d in WORKFLOWS for n in range(SEEDS_PER_WORKFLOW)]  # fmt: skip
        settled = ("succeeded", "failed", "waiting")
        await assert_eventually(lambda: _all_in(engine, started, settled), timeout=120)
        # Half the approvals are decided (their runs succeed), a quarter of the sleepers cancelled.
        tasks = (await engine.tasks.find(ORG, status="open", limit=100)).items
        for task in tasks[: len(tasks) // 2]:
            await engine.tasks.complete(ORG, task.id, by="ann", decision="approve")
        sleepers = [r for r in started if r.workflow == "trial-follow-up"]
        for run in sleepers[: len(sleepers) // 4]:
            await engine.runs.cancel(ORG, run.id, reason="trial converted")
        ended = ("succeeded", "failed", "waiting", "cancelled")
        await assert_eventually(lambda: _all_in(engine, started, ended), timeout=120)
    finally:
        await engine.close()


async def _all_in(engine: Engine, runs: list[Run], statuses: tuple[str, ...]) -> bool:
    for run in runs:
        if (await engine.runs.get(ORG, run.id)).status not in statuses:
            return False
    return True


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]


def _select(columns: list[str], fresh: dict[str, str], source: str) -> str:
    """The SELECT list of a clone: ``fresh`` expressions for some columns, the rest copied."""
    return ", ".join(fresh.get(c, f"{source}.{c}") for c in columns)


def _id(rng: random.Random, prefix: str, size: int) -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(rng.choices(alphabet, k=size))


def clone(path: Path, runs: int) -> None:
    """Clone the seed runs into ``runs`` runs (bulk SQL, one transaction)."""
    rng = random.Random(14)
    now = time.time()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = OFF")
    seeds: dict[tuple[str, str], list[str]] = {}
    every: dict[str, list[str]] = {}
    query = "SELECT id, workflow, status FROM runs WHERE org = ?"
    for run_id, workflow, status in db.execute(query, (ORG,)):
        seeds.setdefault((workflow, status), []).append(run_id)
        every.setdefault(workflow, []).append(run_id)
    workflows = sorted(every)
    ending = {s: [key for key in sorted(seeds) if key[1] == s] for s in MIX}
    statuses = list(MIX)
    weights = [MIX[s] for s in statuses]
    ended = ("succeeded", "failed", "cancelled")
    db.execute("""CREATE TEMP TABLE plan (new_id TEXT PRIMARY KEY, seed_id TEXT, status TEXT,
                  input BLOB, created_at REAL, started_at REAL, finished_at REAL,
                  updated_at REAL, wake_at REAL, lease_expires_at REAL, outcome TEXT,
                  with_steps INTEGER, shift REAL)""")  # fmt: skip
    seed_created = dict(db.execute("SELECT id, created_at FROM runs"))
    batch: list[tuple[Any, ...]] = []
    for n in range(runs):
        # The status first (so the mix is as MIX says), then a workflow that ends so: a run
        # in flight or cancelled may be of any workflow, stopped where one of its seeds was.
        status = rng.choices(statuses, weights)[0]
        if status in ("running", "pending", "cancelled"):
            pool = every[rng.choice(workflows)]
        else:
            pool = seeds[rng.choice(ending[status])]
        seed_id = rng.choice(pool)
        created = now - rng.random() * DAYS * 86400
        if status in ("running", "pending"):
            created = now - rng.random() * 600  # what is in flight started lately
        took = min(rng.lognormvariate(0.0, 1.6), 900.0) + 0.05
        started = created + rng.random() * 0.2 if status != "pending" else None
        finished = (started or created) + took if status in ended else None
        updated = finished or started or created
        outcome = status if status in ended else None
        wake = created + 30 * 86400 if status == "waiting" else None
        lease = now + 30 if status == "running" else None
        batch.append((_id(rng, "run_", 16), seed_id, status,
                      orjson.dumps(_input(rng, n)), created, started, finished, updated, wake,
                      lease, outcome, int(rng.random() < STEPS_FRACTION),
                      created - seed_created[seed_id]))  # fmt: skip
        if len(batch) == 50_000:
            db.executemany("INSERT INTO plan VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", batch)
            batch.clear()
    db.executemany("INSERT INTO plan VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", batch)

    run_columns = _columns(db, "runs")
    planned = (
        "status",
        "input",
        "created_at",
        "started_at",
        "finished_at",
        "updated_at",
        "wake_at",
        "lease_expires_at",
        "outcome",
    )
    fresh = {c: f"p.{c}" for c in planned}
    fresh |= {"id": "p.new_id", "lease_owner": "CASE WHEN p.status = 'running' THEN "
              "'bench-worker' END", "parent_run_id": "NULL", "parent_step": "NULL",
              "root_run_id": "NULL", "depth": "0",
              "output": "CASE WHEN p.status IN ('succeeded', 'failed') THEN s.output END",
              "error": "CASE WHEN p.status = 'failed' THEN s.error END"}  # fmt: skip
    db.execute(f"INSERT INTO runs ({', '.join(run_columns)}) "
               f"SELECT {_select(run_columns, fresh, 's')} "
               "FROM plan p JOIN runs s ON s.id = p.seed_id ORDER BY p.created_at")  # fmt: skip

    step_columns = _columns(db, "steps")
    shifted = {c: f"st.{c} + p.shift" for c in ("started_at", "finished_at", "wake_at")}
    db.execute(f"INSERT INTO steps ({', '.join(step_columns)}) "
               f"SELECT {_select(step_columns, shifted | {'run_id': 'p.new_id'}, 'st')} "
               "FROM plan p JOIN steps st ON st.run_id = p.seed_id "
               "WHERE p.with_steps = 1 OR p.status = 'waiting'")  # fmt: skip

    task_columns = _columns(db, "tasks")
    waiting = db.execute("SELECT p.new_id, t.id FROM plan p JOIN tasks t ON t.run_id = p.seed_id "
                         "WHERE p.status = 'waiting' AND t.status = 'open'").fetchall()  # fmt: skip
    db.execute("CREATE TEMP TABLE task_plan (new_id TEXT, run_id TEXT, seed_task TEXT)")
    db.executemany("INSERT INTO task_plan VALUES (?, ?, ?)",
                   [(_id(rng, "task_", 8), run, task) for run, task in waiting])  # fmt: skip
    moved = {"id": "tp.new_id", "run_id": "tp.run_id", "created_at": "p.created_at",
             "updated_at": "p.created_at", "due_at": "p.created_at + 30 * 86400"}  # fmt: skip
    db.execute(
        f"INSERT INTO tasks ({', '.join(task_columns)}) "
        f"SELECT {_select(task_columns, moved, 't')} FROM task_plan tp "
        "JOIN tasks t ON t.id = tp.seed_task "
        "JOIN plan p ON p.new_id = tp.run_id"
    )

    # The counters the store keeps per workflow, from one pass over the runs.
    db.execute("""CREATE TEMP TABLE tallies AS SELECT org, workflow_id,
        SUM(status IN ('pending', 'running')) AS running, SUM(outcome IS NOT NULL) AS runs,
        SUM(outcome = 'succeeded') AS succeeded, SUM(outcome IN ('failed', 'partial')) AS failed,
        MAX(finished_at) AS last_run_at
        FROM runs GROUP BY org, workflow_id""")  # fmt: skip
    db.execute("""UPDATE workflows SET running = t.running, run_count = t.runs,
        success_count = t.succeeded, failure_count = t.failed, last_run_at = t.last_run_at
        FROM tallies t WHERE t.org = workflows.org AND t.workflow_id = workflows.id""")  # fmt: skip
    db.commit()
    db.close()


def ensure_long_run(path: Path) -> None:
    """Add (once) a succeeded run of ``LONG_RUN_STEPS`` recorded steps, cloned from a seed."""
    db = sqlite3.connect(path)
    try:
        if db.execute("SELECT 1 FROM runs WHERE id = ?", (LONG_RUN,)).fetchone():
            return
        seed, key = db.execute(
            "SELECT r.id, s.key FROM runs r JOIN steps s ON s.run_id = r.id WHERE r.org = ? AND "
            "r.workflow = 'order-fulfillment' AND r.status = 'succeeded' AND s.kind = 'step' "
            "ORDER BY r.created_at LIMIT 1", (ORG,)).fetchone()  # fmt: skip
        run_columns = _columns(db, "runs")
        db.execute(f"INSERT INTO runs ({', '.join(run_columns)}) "
                   f"SELECT {_select(run_columns, {'id': ':run'}, 's')} FROM runs s "
                   "WHERE s.id = :seed", {"run": LONG_RUN, "seed": seed})  # fmt: skip
        step_columns = _columns(db, "steps")
        fresh = {"run_id": ":run", "key": "printf('item-%05d', n.i)", "position": "n.i",
                 "name": "printf('item-%05d', n.i)", "started_at": "s.started_at + n.i * 0.01",
                 "finished_at": "s.started_at + n.i * 0.01 + 0.005"}  # fmt: skip
        db.execute(f"INSERT INTO steps ({', '.join(step_columns)}) "
                   "WITH RECURSIVE n(i) AS "
                   "(SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :last) "
                   f"SELECT {_select(step_columns, fresh, 's')} FROM n, steps s "
                   "WHERE s.run_id = :seed AND s.key = :key",
                   {"run": LONG_RUN, "seed": seed, "key": key,
                    "last": LONG_RUN_STEPS - 1})  # fmt: skip
        db.commit()
    finally:
        db.close()


def make_database(runs: int, fresh: bool) -> Path:
    path = database_path(runs)
    if path.exists() and not fresh:
        return path
    building = path.with_suffix(f".building-{os.getpid()}")
    for stale in (building, Path(f"{building}-wal"), Path(f"{building}-shm")):
        stale.unlink(missing_ok=True)
    started = time.perf_counter()
    asyncio.run(seed(f"sqlite:///{building}"))
    seeded = time.perf_counter()
    clone(building, runs)
    db = sqlite3.connect(building)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    building.replace(path)
    print(f"made {path} in {time.perf_counter() - started:.0f} s "
          f"(seeds {seeded - started:.0f} s)", file=sys.stderr)  # fmt: skip
    return path


# -- measuring ------------------------------------------------------------------------------------

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGI = Callable[[Scope, Receive, Send], Awaitable[None]]


class Timed:
    """An ASGI wrapper that records the server time of each request, up to its last byte."""

    def __init__(self, app: ASGI) -> None:
        self.app = app
        self.last = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: MutableMapping[str, Any]) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.last = time.perf_counter() - started

        await self.app(scope, receive, timed_send)


INFINITY = re.compile(r"(?<![\w.])(-?)Inf(?!\w)")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
NEXT = re.compile(r'href="(/runs\?[^"]*cursor=[^"]+)"')


async def sign_in(client: httpx.AsyncClient, key: str) -> None:
    form = await client.get("/login")
    found = CSRF.search(form.text)
    assert found, form.text
    signed = await client.post("/login", data={"key": key, "csrf": found.group(1), "next": "/"})
    assert signed.status_code == 200 and "/login" not in str(signed.url), signed.text[:500]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def measure(path: Path, requests: int, repeat: int, explain: bool) -> dict[str, Any]:
    if explain:
        trace_all()
    engine = Engine(f"sqlite:///{path}")
    app = create_app(engine)
    timed = Timed(app)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        key = (await engine.keys.create(ORG, "admin", user="ann")).key
        transport = httpx.ASGITransport(app=timed)
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://plait.bench",
                              follow_redirects=True, timeout=60))  # fmt: skip
        await sign_in(client, key)
        workflow, status = FILTERED
        filtered = f"/runs?workflow={workflow}&status={status}"
        first = await client.get(filtered)
        cursor = NEXT.search(first.text) if first.status_code == 200 else None
        onboarding = (await engine.workflows.get(ORG, "customer-onboarding")).id
        pages: dict[str, tuple[str, float | None]] = {
            "runs": ("/runs", BUDGET_MS),
            "runs filtered (workflow + status)": (filtered, BUDGET_MS),
            "runs filtered, page 2 (cursor)": (
                cursor.group(1).replace("&amp;", "&") if cursor else "", BUDGET_MS),
            "overview": ("/", BUDGET_MS),
            f"a run of {LONG_RUN_STEPS:,} steps": (f"/runs/{LONG_RUN}", LONG_RUN_BUDGET_MS),
            "runs search (input field)": ("/runs?search=input.order%3DORD-0999990", None),
            "workflows": ("/workflows", None),
            "a workflow (customer-onboarding)": (f"/workflows/{onboarding}", None),
            "inbox": ("/inbox", None),
        }  # fmt: skip
        statuses: dict[str, int] = {}
        slow: set[str] = set()  # pages of over half a second get a twentieth of the requests
        for name, (url, _) in pages.items():
            if not url:
                continue
            for _ in range(3):  # warm up
                answer = await client.get(url)
            statuses[name] = answer.status_code
            if timed.last > 0.5:
                slow.add(name)
        rounds: list[dict[str, list[float]]] = []
        for _ in range(repeat):
            times: dict[str, list[float]] = {name: [] for name in pages}
            for n in range(requests):
                for name, (url, _) in pages.items():
                    if not url or statuses[name] != 200 or (name in slow and n % 20):
                        continue
                    await client.get(url)
                    times[name].append(timed.last * 1000)
            rounds.append(times)
        if explain:
            await explain_pages(engine, client, {n: u for n, (u, _) in pages.items() if u})
    rows: dict[str, Any] = {}
    for name, (url, budget) in pages.items():
        got = [times[name] for times in rounds if times[name]]
        p50s = [statistics.median(t) for t in got]
        p95s = [percentile(t, 95) for t in got]
        rows[name] = {
            "path": url, "status": statuses.get(name), "requests": sum(len(t) for t in got),
            "p50_ms": round(statistics.median(p50s), 1) if got else None,
            "p95_ms": round(statistics.median(p95s), 1) if got else None,
            "max_ms": round(max(max(t) for t in got), 1) if got else None,
            "p95_rounds_ms": [round(p, 1) for p in p95s],
            "budget_ms": budget,
        }  # fmt: skip
        if budget is not None:
            rows[name]["within"] = bool(got) and statistics.median(p95s) < budget
    return rows


TRACED: list[str] = []
"""Every statement the store's connections run, when ``--explain`` asks (see :func:`trace_all`)."""


def trace_all() -> None:
    """Make every SQLite connection opened from now on report its statements to ``TRACED``."""
    connect = sqlite3.connect

    def traced(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        connection: sqlite3.Connection = connect(*args, **kwargs)
        connection.set_trace_callback(TRACED.append)
        return connection

    sqlite3.connect = traced  # type: ignore[assignment]


async def explain_pages(engine: Engine, client: httpx.AsyncClient, pages: dict[str, str]) -> None:
    """Print each page's statements, with the time each takes alone and its query plan."""
    plain = sqlite3.connect(f"file:{_file_of(engine)}?mode=ro", uri=True)
    plain.set_trace_callback(None)
    try:
        for name, url in pages.items():
            TRACED.clear()
            await client.get(url)
            print(f"\n## {name}: {url}")
            for traced in list(dict.fromkeys(TRACED)):
                lines = [ln for ln in traced.splitlines() if not ln.lstrip().startswith("--")]
                # an infinite bound is traced as Inf, which SQL reads as a column name
                statement = INFINITY.sub(r"\g<1>9e999", "\n".join(lines).strip())
                if not statement.upper().startswith(("SELECT", "WITH")):
                    continue
                try:
                    started = time.perf_counter()
                    plain.execute(statement).fetchall()
                    took = (time.perf_counter() - started) * 1000
                    plan = [row[-1] for row in plain.execute(f"EXPLAIN QUERY PLAN {statement}")]
                except sqlite3.Error as exc:
                    print(f"\n{statement.strip()}\n   (not run alone: {exc})")
                    continue
                print(f"\n[{took:.1f} ms] {statement.strip()}")
                for step in plan:
                    print(f"   {step}")
    finally:
        plain.close()


def _file_of(engine: Engine) -> str:
    url = engine.settings.database_url
    return url.removeprefix("sqlite:///")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200, help="per page and round")
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds; p50 and p95 are the medians of the rounds'")  # fmt: skip
    parser.add_argument("--fresh", action="store_true", help="make the database again")
    parser.add_argument("--explain", action="store_true", help="print each page's query plans")
    args = parser.parse_args()
    path = make_database(args.runs, args.fresh)
    ensure_long_run(path)
    rows = asyncio.run(measure(path, args.requests, args.repeat, args.explain))
    print(f"\nconsole server time, {args.runs:,} runs in SQLite ({path.name}), "
          f"{args.repeat} rounds of {args.requests} requests per page "
          "(medians of the rounds)\n")  # fmt: skip
    print(f"{'page':38} {'status':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  budget")
    for name, row in rows.items():
        verdict = "" if row["budget_ms"] is None else ("ok" if row["within"] else "OVER")
        cells = [f"{row[k]:8.1f}" if row[k] is not None else f"{'—':>8}"
                 for k in ("p50_ms", "p95_ms", "max_ms")]  # fmt: skip
        print(f"{name:38} {row['status'] or '—':>6} {' '.join(cells)}  "
              + (f"< {row['budget_ms']:.0f} ms p95 {verdict}" if verdict
                 else "(information)"))  # fmt: skip
    print(json.dumps({"benchmark": "console", "runs": args.runs, "requests": args.requests,
                      "repeat": args.repeat, "pages": rows}))  # fmt: skip


if __name__ == "__main__":
    main()
