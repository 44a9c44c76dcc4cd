from __future__ import annotations

import plait


def test_public_surface_is_pinned() -> None:
    assert sorted(plait.__all__) == sorted(
        [
            "ChildWorkflowFailed", "Clock", "Context", "Engine", "Escalation", "InvalidArguments",
            "NonDeterminismError", "Page", "PlaitError", "ResultTimeout", "RetryPolicy", "Run",
            "RunConflict", "RunHandle", "RunNotFound", "SerializationError", "Settings", "Step",
            "StepFailed", "StepTimeout", "SystemClock", "TaskExpired", "UnknownWorkflow", "Workflow",
            "WorkflowCancelled", "WorkflowFailed", "WorkflowTimeout", "__version__",
        ]
    )  # fmt: skip
    for name in plait.__all__:
        assert hasattr(plait, name), name


def test_user_errors_share_one_base() -> None:
    for name in plait.__all__:
        obj = getattr(plait, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, plait.PlaitError), name


def test_the_engine_surface_fits_on_one_screen() -> None:
    """The engine assembles: register, define, start, handle, list, lifecycle, the services."""
    engine = plait.Engine("sqlite:///unused.db")
    public = sorted(name for name in dir(engine) if not name.startswith("_"))
    assert public == [
        "action", "catalog", "clock", "close", "define", "deps", "events", "handle", "health",
        "keys", "list_runs", "machines", "reconfigured", "run_worker", "runs", "schedules",
        "secrets", "settings", "start", "start_worker", "sync", "tasks", "webhooks", "worker",
        "workflow", "workflows",
    ]  # fmt: skip

