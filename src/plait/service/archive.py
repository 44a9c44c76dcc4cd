"""The archive of deleted runs: before the retention (or a purge) deletes a batch of runs, each
is written, as ``GET /~{org}/runs/{id}?include=metrics`` shows it, to one gzip-compressed JSON
lines file of the ``archive`` directory, flushed to disk (file and directory fsync'd) before the
delete is submitted. A crash between the two leaves runs archived and not deleted: the next pass
archives them again (a reader may see a run twice, never miss one).

Files are named ``runs-<UTC time>-<host>-<pid>-<random>.jsonl.gz``: no two processes (nor two
batches of one) ever write the same file. :func:`read_archive` reads one back.
"""

from __future__ import annotations

import gzip
import os
import socket
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from plait.errors import PlaitError
from plait.ids import new_id

SUFFIX = ".jsonl.gz"


def archive_name(now: float) -> str:
    """A file name no other process or batch uses."""
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
    host = "".join(c if c.isalnum() or c in "-." else "-" for c in socket.gethostname())
    return f"runs-{stamp}-{host or 'host'}-{os.getpid()}-{new_id('a')[2:]}{SUFFIX}"


def write_archive(directory: str | Path, runs: Sequence[dict[str, Any]], now: float) -> Path:
    """Write ``runs`` (JSON objects) to a new file of ``directory`` (made if missing), one line
    each, and make it durable; its path."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / archive_name(now)
    with open(path, "xb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb") as packed:
            for run in runs:
                packed.write(orjson.dumps(run) + b"\n")
        raw.flush()
        os.fsync(raw.fileno())
    _sync_directory(folder)
    return path


def read_archive(path: str | Path) -> Iterator[dict[str, Any]]:
    """The runs of one archive file, in the order they were written (each as the API shows a
    run: ``$id``, ``workflow``, ``status``, ``steps``, ...)."""
    with gzip.open(path, "rb") as lines:
        for line in lines:
            if line.strip():
                found: dict[str, Any] = orjson.loads(line)
                yield found


def _sync_directory(folder: Path) -> None:
    """Make the new file's name durable too (POSIX: fsync the directory)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:  # a platform that cannot open a directory (Windows): the file is synced
        return
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


class ArchiveUnwritable(PlaitError):
    """The ``archive`` directory cannot be written (missing rights, full disk): nothing was
    deleted (503 in the API; exit code 4 in the CLI)."""

    def __init__(self, directory: str | Path, error: OSError) -> None:
        self.directory = str(directory)
        reason = error.strerror or type(error).__name__
        super().__init__(
            f"cannot write the archive of deleted runs to {self.directory!r}: {reason}; "
            "nothing was deleted (fix the directory or the archive setting and try again)"
        )
