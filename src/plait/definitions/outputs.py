"""A declared output must be producible: check a workflow's output schema against what forms
its output, before any run.

A run's output is the workflow's output template (the function dialect's ``outputMapping``, the
canonical ``output``) rendered when the steps are done, or, without one, every top-level step's
output under its id. Whatever the schema asks of that object that can be decided from the
document alone is checked here, each problem at its JSON path:

- the output is an object, so a schema whose ``type`` excludes ``object`` can never match;
- each ``required`` field must be a key of the output template (or a step id, without one);
- with ``additionalProperties: false``, each key must be one of the schema's ``properties``;
- a literal value of the template must match the schema of its field.

What depends on the data (the value an expression gives) is checked when the run ends, and a
mismatch fails the run with ``SchemaViolation``. Where nothing can be decided (a template that is
one expression), the schema's demands are a warning, so that the author knows they are checked
late.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from plait.definitions.model import Definition
from plait.definitions.validate import Findings, join
from plait.expressions import ExpressionError, compile_template

_SHOWN = 6
"""Step ids named in a message before ``...``."""
_DEPTH = 8
"""How deep ``$ref`` and ``allOf`` are followed (a schema may refer to itself)."""


def check_output(definition: Definition, sources: dict[str, str], findings: Findings) -> None:
    """Add to ``findings`` every way in which ``definition``'s output cannot match its output
    schema (errors), or cannot be known to before a run (warnings)."""
    schema = definition.output_schema
    if not isinstance(schema, dict) or definition.machine is not None or not _usable(schema):
        return
    root_at = sources.get("output_schema", "$.output_schema")
    mapping_at = sources.get("output", "$.output")
    for part, where in _parts(schema, (schema, root_at), root_at, findings):
        _check_part(definition, part, where, mapping_at, findings)


def _check_part(
    definition: Definition,
    schema: dict[str, Any],
    where: str,
    mapping_at: str,
    findings: Findings,
) -> None:
    template = definition.output
    if template is None:
        ids = [step.id for step in definition.steps]
        _Object(
            schema, where, dict.fromkeys(ids), None, findings, _default(ids, mapping_at)
        ).check()
    elif isinstance(template, dict):
        _Object(schema, where, template, mapping_at, findings, "").check()
    else:
        _scalar(schema, where, template, mapping_at, findings)


def _parts(
    schema: dict[str, Any],
    root: tuple[dict[str, Any], str],
    where: str,
    findings: Findings,
    depth: int = 0,
) -> list[tuple[dict[str, Any], str]]:
    """The schemas the output must match at once, each with its path: ``schema``, the schema
    its local ``$ref`` names (``#/$defs/...``, as zod-to-json-schema writes), and each member of
    its ``allOf``. A choice (``anyOf``, ``oneOf``) or a remote ``$ref`` cannot be judged before
    a run: a warning says so."""
    parts = [(schema, where)]
    if depth > _DEPTH:
        return parts
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = _pointed(root[0], ref)
        if target is None:
            findings.warn(join(where, "$ref"), f"the output schema's $ref {ref!r} is checked "
                          "when a run ends, not before")  # fmt: skip
        else:
            parts += _parts(target, root, _below(root[1], ref), findings, depth + 1)
    for index, member in enumerate(schema.get("allOf") or []):
        if isinstance(member, dict):
            parts += _parts(member, root, f"{join(where, 'allOf')}[{index}]", findings, depth + 1)
    for choice in ("anyOf", "oneOf"):
        if choice in schema:
            findings.warn(join(where, choice), f"the output schema's {choice} is checked when a "
                          "run ends, not before")  # fmt: skip
    return parts


def _pointer(ref: str) -> list[str] | None:
    """The keys of a local JSON pointer (``#/$defs/o``: ``["$defs", "o"]``; ``#``: none), or
    None for any other reference."""
    if ref == "#":
        return []
    if not ref.startswith("#/"):
        return None
    return [key.replace("~1", "/").replace("~0", "~") for key in ref[2:].split("/")]


def _pointed(root: dict[str, Any], ref: str) -> dict[str, Any] | None:
    """The part of ``root`` a local ``$ref`` names, or None."""
    keys = _pointer(ref)
    node: Any = root if keys is not None else None
    for key in keys or []:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None


def _below(root_at: str, ref: str) -> str:
    """The path of a local ``$ref``'s target, below the root schema at ``root_at``."""
    path = root_at
    for key in _pointer(ref) or []:
        path = join(path, key)
    return path


def _usable(schema: dict[str, Any]) -> bool:
    """An invalid schema is reported by the schema check; nothing more is said about it."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError:
        return False
    return True


def _default(ids: list[str], mapping_at: str) -> str:
    shown = ", ".join(ids[:_SHOWN]) + (", ..." if len(ids) > _SHOWN else "")
    key = mapping_at.rsplit(".", 1)[-1]
    return (f"without {key!r}, the output is each top-level step's output under its id "
            f"({shown}); give the workflow {key!r}, an object of expressions over the steps' "
            "results, to produce the declared output")  # fmt: skip


class _Object:
    """An output that is an object whose keys are known: ``fields`` maps each key to its
    template value (``None`` for a step's output, unknown until the run)."""

    def __init__(
        self,
        schema: dict[str, Any],
        where: str,
        fields: dict[str, Any],
        mapping_at: str | None,
        findings: Findings,
        hint: str,
    ) -> None:
        self.schema, self.where, self.fields = schema, where, fields
        self.mapping_at, self.findings, self.hint = mapping_at, findings, hint

    def check(self) -> None:
        if not _admits(self.schema.get("type"), "object"):
            self.findings.error(join(self.where, "type"), "the run's output is an object, "
                                f"which this type can never match{self._why()}")  # fmt: skip
            return
        self.check_required()
        self.check_additional()
        self.check_literals()

    def _why(self) -> str:
        return f": {self.hint}" if self.hint else ""

    def check_required(self) -> None:
        required = self.schema.get("required", [])
        for index, name in enumerate(required if isinstance(required, list) else []):
            if name in self.fields:
                continue
            where = join(join(self.where, "required"), index)
            if self.mapping_at is None:
                self.findings.error(where, f"the run's output has no field {name!r}{self._why()}")
            else:
                self.findings.error(where, f"the run's output has no field {name!r}: "
                                    f"{self.mapping_at} does not give it")  # fmt: skip

    def check_additional(self) -> None:
        if self.schema.get("additionalProperties") is not False:
            return
        if self.schema.get("patternProperties"):
            return  # a key may match a pattern: decided by the run
        declared = self.schema.get("properties", {})
        for key in self.fields:
            if key in declared:
                continue
            if self.mapping_at is None:
                where = join(self.where, "additionalProperties")
                message = f"the run's output has the field {key!r} (a step's output), which "
                self.findings.error(where, message + f"this schema does not allow{self._why()}")
            else:
                self.findings.error(join(self.mapping_at, key), f"field {key!r} is not among "
                                    f"the properties {self.where} allows")  # fmt: skip

    def check_literals(self) -> None:
        declared = self.schema.get("properties", {})
        if self.mapping_at is None or not isinstance(declared, dict):
            return
        for key, value in self.fields.items():
            field_schema = declared.get(key)
            if isinstance(field_schema, dict | bool) and _literal(value):
                _against(field_schema, value, join(self.mapping_at, key), self.findings)


def _scalar(
    schema: dict[str, Any], where: str, template: Any, mapping_at: str, findings: Findings
) -> None:
    """An output template that is not an object: a literal, text, or one expression."""
    if _literal(template):
        _against(schema, template, mapping_at, findings)
        return
    if not _exact(template):  # text around expressions: always a string
        if not _admits(schema.get("type"), "string"):
            findings.error(join(where, "type"), f"the run's output is text ({mapping_at} "
                           "interpolates expressions): this type can never match it")  # fmt: skip
        return
    required = schema.get("required")
    if schema.get("type") is not None or required:
        demands = f"the fields {', '.join(map(repr, required))}" if required else "its type"
        findings.warn(mapping_at, f"whether this expression gives what the output schema "
                      f"requires ({demands}) is known only when a run ends; a mismatch then "
                      "fails the run (an object of expressions is checked before)")  # fmt: skip


def _admits(declared: Any, kind: str) -> bool:
    """Whether a schema's ``type`` allows ``kind`` (no ``type``: anything)."""
    if declared is None:
        return True
    kinds = {declared} if isinstance(declared, str) else set(declared or [])
    return kind in kinds or (kind == "number" and "integer" in kinds)


def _literal(value: Any) -> bool:
    try:
        return compile_template(value).is_literal
    except ExpressionError:
        return False  # reported by the expression check


def _exact(value: Any) -> bool:
    """A string that is exactly one ``{{ expression }}`` (its value keeps its type)."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    return text.startswith("{{") and text.endswith("}}") and text.count("{{") == 1


def _against(schema: dict[str, Any] | bool, value: Any, where: str, findings: Findings) -> None:
    for error in Draft202012Validator(schema).iter_errors(value):
        path = where
        for key in error.absolute_path:
            path = join(path, key)
        findings.error(path, f"this literal can never match the output schema: {error.message}")
