from __future__ import annotations

import plait


def test_public_surface_is_pinned() -> None:
    assert sorted(plait.__all__) == sorted(
        [
            "Bulkhead", "Cache", "ChildWorkflowFailed", "CircuitBreaker", "CircuitOpen", "Clock",
            "Context", "Engine", "Escalation", "Event",
            "EventPage", "InvalidArguments", "NonDeterminismError", "Page", "PlaitError",
            "RateLimit", "ResultTimeout", "RetryPolicy", "Run", "RunConflict", "RunHandle",
            "RunNotFound",
            "RunPage", "SerializationError", "Settings", "Signal", "Step", "StepFailed",
            "StepTimeout", "StoredWorkflow", "SystemClock", "Task", "TaskExpired", "TaskPage",
            "UnknownWorkflow", "Workflow", "WorkflowCancelled", "WorkflowFailed", "WorkflowPage",
            "WorkflowTimeout", "__version__",
        ]
    )  # fmt: skip
    for name in plait.__all__:
        assert hasattr(plait, name), name


def test_the_testing_surface_is_pinned() -> None:
    import plait.testing

    assert sorted(plait.testing.__all__) == [
        "Mock", "RunResult", "StepCall", "VirtualClock", "WorkflowTest", "assert_eventually",
    ]  # fmt: skip
    for name in plait.testing.__all__:
        assert hasattr(plait.testing, name), name


def test_what_public_methods_return_is_exported() -> None:
    """Pages and resources the engine's services and handles return are importable from plait
    (the same classes, not copies)."""
    from plait.resources import events, runs, tasks, workflows

    assert plait.RunPage is runs.RunPage and plait.Signal is runs.Signal
    assert plait.StoredWorkflow is workflows.StoredWorkflow
    assert plait.WorkflowPage is workflows.WorkflowPage
    assert (plait.Event, plait.EventPage) == (events.Event, events.EventPage)
    assert (plait.Task, plait.TaskPage) == (tasks.Task, tasks.TaskPage)


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
        "action", "audit", "catalog", "circuits", "clock", "close", "costs", "define", "deps",
        "events",
        "handle",
        "health",
        "keys", "list_runs", "machines", "overview", "query", "reconfigured", "retention",
        "run_worker", "runs",
        "schedules", "secrets", "settings", "start", "start_worker", "step_cache", "step_hook",
        "steps",
        "streams", "sync", "tasks",
        "webhooks",
        "worker", "workflow", "workflow_tests", "workflows",
    ]  # fmt: skip
