"""The DBOS worker process that ``bench/scaleout.py --vs dbos`` runs K of.

    python bench/scaleout_dbos_app.py SYSTEM_DB_URL EXECUTOR_ID [--setup]
        [--worker-concurrency N] [--polling-interval S]

Launches DBOS Transact on the system database ``SYSTEM_DB_URL`` with the workflow of
``bench/dbos_peer.py`` (three no-op ``async`` steps, registered as ``noop3``), registers the queue
``scaleout`` and consumes it until SIGTERM. ``ready`` on stdout means launched and registered.
With ``--setup`` it exits there instead: the benchmark runs it once so that DBOS's migrations
and the queue's row exist before anything is enqueued (``DBOSClient`` does not migrate).

Settings changed from DBOS's defaults, and why:

* ``application_version``: the same fixed string in every process. DBOS only dequeues workflows
  of its own application version (or version-less ones when it runs the latest version); the
  default, a hash of the workflows' source, would also agree, but the benchmark's client stamps
  this version on what it enqueues.
* ``executor_id``: one per process (DBOS's default is ``local`` for all). At launch DBOS
  recovers the ``PENDING`` workflows of its own executor id, so processes sharing ``local``
  would re-run each other's in-flight workflows.

The queue takes DBOS's defaults (no concurrency limits, a 1 s polling interval) unless
``--worker-concurrency`` or ``--polling-interval`` is given.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dbos_peer import _define_workflow

APP_NAME = "plait-bench-dbos-scaleout"
APP_VERSION = "plait-bench-scaleout-1"
QUEUE = "scaleout"
WORKFLOW = "noop3"


def _config(url: str, executor_id: str) -> dict[str, Any]:
    return {
        "name": APP_NAME,
        "system_database_url": url,
        "log_level": "WARNING",
        "application_version": APP_VERSION,
        "executor_id": executor_id,
    }


def _queue_settings(args: argparse.Namespace) -> dict[str, Any]:
    """Only the settings asked for: DBOS's defaults otherwise."""
    settings: dict[str, Any] = {}
    if args.worker_concurrency is not None:
        settings["worker_concurrency"] = args.worker_concurrency
    if args.polling_interval is not None:
        settings["polling_interval_sec"] = args.polling_interval
    return settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url", help="the DBOS system database (postgresql://...)")
    parser.add_argument("executor_id")
    parser.add_argument("--setup", action="store_true", help="migrate, register, exit")
    parser.add_argument("--worker-concurrency", type=int)
    parser.add_argument("--polling-interval", type=float)
    args = parser.parse_args()

    from dbos import DBOS

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    _define_workflow(DBOS, name=WORKFLOW)
    DBOS(config=_config(args.url, args.executor_id))  # type: ignore[arg-type]
    DBOS.launch()
    try:
        DBOS.register_queue(QUEUE, **_queue_settings(args))
        print("ready", flush=True)
        while not args.setup and not stop.wait(0.5):
            pass
    finally:
        DBOS.destroy()


if __name__ == "__main__":
    main()
