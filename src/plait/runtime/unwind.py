"""Unwinding exceptions: they unwind a run's workflow coroutine (to suspend it, or to abandon it
here). They derive from ``BaseException`` so ``except Exception`` in user code cannot swallow
them. (A signal, a named message sent to a run, is ``plait.runtime.messages``.)"""

from __future__ import annotations


class Suspend(BaseException):
    """Unwind the workflow coroutine: the run waits (its wake time is on the context)."""


class Abandon(BaseException):
    """Stop executing the run here without ending it: the database failed under it. Its lease
    then expires and a worker resumes it from its last recorded step."""
