"""CPU time, for the tests that bound how much work something does ("refused fast", "linear,
not quadratic"): the suite runs in parallel on a small machine, and a wall clock would also count
the time that other tests' processes had the cores."""

from __future__ import annotations

import resource


def cpu_seconds() -> float:
    """The CPU time, user and system, of this process (every thread) and of the child processes
    it has waited for, so far."""
    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
    )
