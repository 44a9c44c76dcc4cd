from __future__ import annotations

import plait


def test_public_surface_is_pinned() -> None:
    assert sorted(plait.__all__) == sorted(
        [
            "ChildWorkflowFailed", "Clock", "Context", "Engine", "Escalation", "InvalidArguments",
            "NonDeterminismError", "PlaitError", "ResultTimeout", "RetryPolicy", "RunConflict",
            "RunHandle", "RunInfo", "RunNotFound", "SerializationError", "Settings", "StepFailed",
            "StepInfo", "StepTimeout", "SystemClock", "TaskExpired", "UnknownWorkflow", "Workflow",
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
