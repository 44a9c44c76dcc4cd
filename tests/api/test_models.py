"""The request models stay in step with what the layers below accept."""

from __future__ import annotations

from pydantic import BaseModel

from plait.api.models import WorkflowBody
from plait.definitions.dialects import entity, function, graph, machine, service
from plait.definitions.load import COMMON_KEYS, SERVICE_KEYS
from plait.definitions.model import Definition


def _keys(model: type[BaseModel]) -> set[str]:
    return {info.alias or name for name, info in model.model_fields.items()}


def test_a_workflow_body_takes_exactly_the_top_level_keys_of_the_dialects() -> None:
    dialects = (
        entity.EntityWorkflow,
        function.FunctionWorkflow,
        service.ServiceWorkflow,
        graph.GraphWorkflow,
        machine.MachineWorkflow,
        Definition,
    )
    expected = set().union(*(_keys(m) for m in dialects)) | set(SERVICE_KEYS) | set(COMMON_KEYS)
    assert _keys(WorkflowBody) == expected
