"""The scale-out app, its worker registered as if it ran on another machine.

On its own host a worker that dies is noticed at once (its process id is gone); from another
host only its lease running out frees its runs. A worker of this app claims the host name
``REMOTE_HOST``, so that the others can only wait for its leases.
"""

from __future__ import annotations

from apps.scaleout import STEPS, engine, five_light_steps

from plait.worker import liveness

REMOTE_HOST = "another-machine.plait.test"
liveness.HOST = REMOTE_HOST

__all__ = ["REMOTE_HOST", "STEPS", "engine", "five_light_steps"]
