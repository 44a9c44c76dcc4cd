"""Which registered workers are certainly dead, so their runs need not wait for lease expiry."""

from __future__ import annotations

import os
import socket
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from plait.store.records import WorkerInfo

HOST = socket.gethostname()

# Workers alive in this process: a row with our pid but another id is a former engine of ours.
_LIVE_HERE: weakref.WeakValueDictionary[str, object] = weakref.WeakValueDictionary()


def mark_alive(worker_id: str, owner: object) -> None:
    _LIVE_HERE[worker_id] = owner


def mark_gone(worker_id: str) -> None:
    _LIVE_HERE.pop(worker_id, None)


def is_dead(worker: WorkerInfo, now: float, stale_after: float) -> bool:
    """True when ``worker`` cannot be running any more.

    On this host the process id tells at once; elsewhere only a heartbeat older than
    ``stale_after`` does (its runs' leases will have expired by then anyway).
    """
    if worker.host == HOST:
        if worker.pid == os.getpid():
            return worker.id not in _LIVE_HERE
        return not _pid_alive(worker.pid)
    return now - worker.heartbeat_at > stale_after


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    # A killed child that its parent has not reaped yet still answers kill(pid, 0).
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False
