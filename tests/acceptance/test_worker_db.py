"""``plait worker --db URL`` runs the worker on that database, even when the app's ``Engine``
names another one in code."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from .apps import pinned

if TYPE_CHECKING:
    from .conftest import Sandbox

pytestmark = pytest.mark.timeout(60)


def test_db_flag_wins_over_the_url_written_in_the_app(sandbox: Sandbox) -> None:
    run_id = sandbox.start(pinned.greet, "Ada")  # stored in the --db database
    worker = sandbox.worker("apps.pinned:engine")  # passes --db

    info = sandbox.wait_for_end(run_id)

    assert info.status == "succeeded", info.error
    assert info.output == "hello Ada"
    assert not (sandbox.root / "pinned-in-code.db").exists()
    worker.terminate()
    assert worker.wait(within=15) == 0, worker.describe()
