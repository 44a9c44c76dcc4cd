"""Validate a normalised definition: report every problem, each at the source path of its cause.

Errors make a definition unusable (unknown or duplicate step ids, dependency cycles, expressions
that do not compile or read unknown names, unknown actions, invalid JSON Schemas). Warnings point
at something probably unintended that still runs (a step output nobody reads).

Validation never stops at the first problem: every check runs over every step, so that an author
fixes a document in one pass.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator

from plait.definitions.model import (
    REVIEW_ACTION,
    ActionStep,
    ConditionStep,
    Definition,
    ForeachStep,
    HumanTaskStep,
    ParallelStep,
    SleepStep,
    Step,
    Trigger,
    WaitStep,
    WorkflowStep,
    children,
)
from plait.errors import LimitExceeded, PlaitError
from plait.expressions import (
    Expression,
    ExpressionError,
    Template,
    TemplateTooCostly,
    compile_expression,
    compile_template,
    current_limit,
)
from plait.secrets import SCOPE_NAME as SECRETS
from plait.settings import Settings

RESERVED = frozenset({"input", "inputs", "event", "steps", "results", "step", "now"})
"""Names every expression can read; no step may use one as its id."""
CONTEXT_NAMES = frozenset({"context", "node"})
"""In a workflow with a context: the workflow context, and the step's own (node-level) one."""

COMPENSATION_NAMES = frozenset({"output", "result"})
"""Extra names a compensation's expressions see: the output of the step it undoes."""
LOOP_INDEX = "index"
HINTS = 100
"""How many problems of one document get a "did you mean" hint."""
CYCLES = 100
"""Most dependency cycles reported per group of sibling steps."""

_META = Draft202012Validator(Draft202012Validator.META_SCHEMA)
_IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
# `steps.x`, `results.x`, `steps["x-y"]`, `results['x']`: which step outputs an expression reads.
_BY_ID = re.compile(
    r"\b(?:steps|results)\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*(?:\"([^\"]*)\"|'([^']*)')\s*\])"
)
# `step.0`, `step[0]`: a step output by position.
_BY_INDEX = re.compile(r"\bstep\s*(?:\.\s*(\d+)|\[\s*(\d+)\s*\])")


@dataclass(frozen=True)
class Problem:
    """One problem in a definition: where (a JSON path such as ``$.steps[2].dependsOn[0]``) and
    what, in plain words."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class InvalidDefinition(PlaitError):
    """The workflow definition is invalid."""

    def __init__(self, problems: list[Problem], warnings: list[Problem] | None = None) -> None:
        self.problems = list(problems)
        self.warnings = list(warnings or [])
        count = f"{len(self.problems)} problem" + ("" if len(self.problems) == 1 else "s")
        listing = "".join(f"\n  {problem}" for problem in self.problems)
        super().__init__(f"invalid workflow definition ({count}):{listing}")


class DefinitionLimitExceeded(LimitExceeded, InvalidDefinition):
    """A workflow definition goes over one of plait's limits.

    Both a :class:`~plait.errors.LimitExceeded` (``what``, ``value``, ``limit``, ``setting``,
    ``path``) and an :class:`InvalidDefinition` whose one problem is at ``path``; its message
    starts with the path (``$.steps: the number of steps is 50000; the limit is 2000 ...``).
    """

    def __init__(self, what: str, value: Any, limit: Any, setting: str, path: str) -> None:
        text = str(LimitExceeded(what, value, limit, setting))
        self.what, self.value, self.limit, self.setting, self.path = (
            what, value, limit, setting, path)  # fmt: skip
        self.problems = [Problem(path, text)]
        self.warnings = []
        PlaitError.__init__(self, f"{path}: {text}")


@dataclass
class Findings:
    """Errors and warnings collected while reading and checking one document (no duplicates;
    adding one is O(1), so that a document with many problems is still checked in linear time).
    """

    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    draft: bool = False
    """Reading a Draft, which may have no steps yet."""
    _seen: set[tuple[bool, Problem]] = field(default_factory=set, repr=False, compare=False)
    _hints: int = field(default=HINTS, repr=False, compare=False)

    def error(self, path: str, message: str) -> None:
        self._add(self.errors, True, Problem(path, message))

    def warn(self, path: str, message: str) -> None:
        self._add(self.warnings, False, Problem(path, message))

    def _add(self, problems: list[Problem], error: bool, problem: Problem) -> None:
        if (error, problem) not in self._seen:
            self._seen.add((error, problem))
            problems.append(problem)

    def hint(self, name: str, known: Iterable[str]) -> str:
        """`` (did you mean 'x'?)`` with the known name closest to ``name``, for the first
        :data:`HINTS` problems only: each costs a scan of every known name."""
        if self._hints <= 0:
            return ""
        self._hints -= 1
        close = difflib.get_close_matches(name, sorted(known), n=1)
        return f" (did you mean {close[0]!r}?)" if close else ""


def join(path: str, key: str | int) -> str:
    """``path`` extended by a key (``.name`` or ``["odd-name"]``) or a list index (``[2]``)."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _IDENTIFIER.match(key):
        return f"{path}.{key}"
    return f"{path}[{_quote(key)}]"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def at(step: Step, name: str) -> str:
    """The source path of field ``name`` of ``step`` (``sources`` may rename it, possibly to a
    dotted path such as ``config.code``; an empty source means the step itself)."""
    base = step.path or "$"
    source = step.sources.get(name, "else" if name == "else_" else name)
    return f"{base}.{source}" if source else base


def template_part(step: ActionStep) -> Any:
    """The part of an action step's input that is a template: all of it, except the Python
    source of a ``code`` action, which is taken literally (its braces are Python's)."""
    if step.action == "code" and isinstance(step.input, dict):
        return {k: v for k, v in step.input.items() if k != "code"}
    return step.input


def trigger_nouns(trigger: Trigger | None) -> set[str]:
    """The names under which expressions see the entity of a trigger event: ``deal`` for
    ``Deal.won``."""
    if trigger is None:
        return set()
    return {event.split(".", 1)[0].lower() for event in trigger.events if "." in event}


def everything(steps: Iterable[Step]) -> Iterator[Step]:
    """Every step, nested ones included: children, branches, fallbacks and compensations."""
    for step in steps:
        yield step
        yield from everything(children(step))
        yield from everything(step.compensation)


def sibling_groups(steps: list[Step]) -> Iterator[list[Step]]:
    """Each list of steps that runs as one dependency graph (``dependsOn`` names siblings)."""
    yield steps
    for step in steps:
        for group in _nested_groups(step):
            yield from sibling_groups(group)


def _nested_groups(step: Step) -> list[list[Step]]:
    groups: list[list[Step]] = [step.fallback]
    if isinstance(step, ParallelStep | ForeachStep):
        groups.append(step.steps)
    elif isinstance(step, ConditionStep):
        groups.extend([step.then, step.else_])
    groups.extend([undo] for undo in step.compensation)  # each runs on its own
    return [group for group in groups if group]


def validate(
    definition: Definition,
    findings: Findings,
    *,
    actions: Callable[[str], bool] | None = None,
    sources: dict[str, str] | None = None,
    unreadable: frozenset[str] = frozenset(),
    settings: Settings | None = None,
) -> None:
    """Check ``definition`` and add every problem to ``findings``.

    Args:
        definition: the normalised definition.
        findings: where problems go.
        actions: tells whether an action name is known; ``None`` skips the check (a draft).
        sources: source paths of top-level fields (``{"input_schema": "$.inputSchema"}``).
        unreadable: paths of steps the loader could not read (already reported): only their ids
            take part in the checks.
        settings: the limits in force (a state machine's ``machine_min_timeout_seconds``);
            default: ``Settings()``'s.
    """
    _Validation(definition, findings, actions, sources or {}, unreadable, settings).run()


class _Validation:
    def __init__(
        self,
        definition: Definition,
        findings: Findings,
        actions: Callable[[str], bool] | None,
        sources: dict[str, str],
        unreadable: frozenset[str],
        settings: Settings | None = None,
    ) -> None:
        self.definition = definition
        self.settings = settings or Settings()
        self.findings = findings
        self.actions = actions
        self.sources = sources
        self.unreadable = unreadable
        machine_steps = definition.machine.steps() if definition.machine is not None else []
        self.all = list(everything([*definition.steps, *machine_steps]))
        self.ids = {step.id for step in self.all}
        self.nouns = trigger_nouns(definition.trigger)
        self.known = RESERVED | self.nouns | self.ids
        if definition.context is not None:
            self.known |= CONTEXT_NAMES
        self.read: set[str] = set()
        """Step ids some expression reads (for the unused-output warning)."""

    def run(self) -> None:
        self.check_ids()
        for group in sibling_groups(self.definition.steps):
            self.check_references(group)
            self.check_cycles(group)
        self.check_expressions(self.definition.steps, self.known)
        self.check_workflow_expressions()
        if self.definition.machine is not None:
            from plait.definitions.dialects.machine import check_machine

            check_machine(self, self.definition.machine)
        self.check_actions()
        self.check_group_retries()
        self.check_schemas()
        from plait.definitions.contexts import check_contexts

        check_contexts(self)
        self.check_unused()

    def readable(self, step: Step) -> bool:
        return step.path not in self.unreadable

    # -- ids and references ---------------------------------------------------------------------

    def check_ids(self) -> None:
        first: dict[str, Step] = {}
        for step in self.all:
            where = at(step, "id")
            if step.id in first:
                self.findings.error(
                    where, f"duplicate step id {step.id!r} (first used at {first[step.id].path})"
                )
            else:
                first[step.id] = step
            if step.id in RESERVED or step.id == SECRETS:
                self.findings.error(
                    where, f"step id {step.id!r} is reserved: expressions use it for run data"
                )
            elif step.id in self.nouns:
                self.findings.error(
                    where, f"step id {step.id!r} hides the trigger entity {step.id!r}"
                )

    def check_references(self, group: list[Step]) -> None:
        siblings = {step.id for step in group}
        for step in group:
            for index, target in enumerate(step.depends_on):
                if target in siblings:
                    continue
                where = f"{at(step, 'depends_on')}[{index}]"
                if target in self.ids:
                    self.findings.error(
                        where,
                        f"step {target!r} is not at the same level as {step.id!r}; "
                        "dependsOn can only name sibling steps",
                    )
                else:
                    self.findings.error(
                        where, f"unknown step {target!r}{self.findings.hint(target, siblings)}"
                    )

    def check_cycles(self, group: list[Step]) -> None:
        order = {step.id: index for index, step in enumerate(group)}
        by_id = {step.id: step for step in group}
        reported: set[frozenset[str]] = set()
        for cycle in itertools.islice(_cycles(group), CYCLES):
            members = frozenset(cycle)
            if members in reported:
                continue
            reported.add(members)
            start = min(range(len(cycle)), key=lambda i: order[cycle[i]])
            ring = cycle[start:] + cycle[:start]
            text = " -> ".join([*ring, ring[0]])
            self.findings.error(by_id[ring[0]].path or "$", f"dependency cycle: {text}")

    # -- expressions ----------------------------------------------------------------------------

    def check_expressions(self, steps: list[Step], known: frozenset[str] | set[str]) -> None:
        for step in steps:
            if not self.readable(step):
                continue
            inner = known
            self.expression(step.condition, at(step, "condition"), known)
            self.template(step.reviewer, at(step, "reviewer"), known)
            if isinstance(step, ActionStep):  # an action's input may read secrets.NAME too
                self.template(template_part(step), at(step, "input"), {*known, SECRETS})
            elif isinstance(step, ConditionStep):
                self.expression(step.test, at(step, "test"), known)
            elif isinstance(step, WaitStep):
                self.expression(step.match, at(step, "match"), {*known, "event"})
            elif isinstance(step, ForeachStep):
                self.expression(step.items, at(step, "items"), known)
                inner = known | {step.as_, LOOP_INDEX}
            elif isinstance(step, SleepStep) and isinstance(step.seconds, str):
                self.expression(step.seconds, at(step, "seconds"), known)
            elif isinstance(step, HumanTaskStep):  # its fields render together
                fields = [self.template(value, at(step, name), known)
                          for name, value in step.templates()]  # fmt: skip
                self.together([f for f in fields if f is not None], step.path or "$")
            elif isinstance(step, WorkflowStep):
                self.template(step.input, at(step, "input"), known)
            self.check_expressions(children(step), inner)
            # A compensation also sees the output of the step it undoes.
            self.check_expressions(list(step.compensation), known | COMPENSATION_NAMES)
            self.check_undoes(step)

    def check_undoes(self, step: Step) -> None:
        """``stepId`` of a compensation step names a step whose output it sees."""
        for undo in step.compensation:
            if undo.undoes is not None and undo.undoes not in self.ids:
                self.findings.error(at(undo, "undoes"), f"unknown step {undo.undoes!r}"
                                    f"{self.findings.hint(undo.undoes, self.ids)}")  # fmt: skip

    def check_workflow_expressions(self) -> None:
        trigger = self.definition.trigger
        if trigger is not None and trigger.filter is not None:
            where = self.sources.get("trigger.filter", "$.trigger.filter")
            self.expression(trigger.filter, where, RESERVED | self.nouns)
        self.template(self.definition.reviewer, "$.reviewer", self.known)
        if self.definition.output is not None:
            where = self.sources.get("output", "$.output")
            self.template(self.definition.output, where, self.known)

    def expression(self, text: str | None, where: str, known: frozenset[str] | set[str]) -> None:
        if text is None:
            return
        try:
            compiled = compile_expression(text)
        except ExpressionError as exc:
            self.findings.error(where, compile_message(exc, text))
            return
        self.names(compiled, text, where, known)

    def template(self, value: Any, where: str, known: frozenset[str] | set[str]) -> Template | None:
        if value is None:
            return None
        try:
            compiled = compile_template(value)
        except ExpressionError as exc:
            self.findings.error(within(where, exc.path), compile_message(exc, exc.expression))
            return None
        for path, expression in compiled.expressions:
            self.names(expression, expression.source, within(where, path), known)
        self.together([compiled], where)
        return compiled

    def together(self, templates: list[Template], where: str) -> None:
        """The expressions of one render share ``max_expression_cost``: refuse templates whose
        expressions cost more together, whatever the data (each one alone is checked apart)."""
        expressions = [e for template in templates for _, e in template.expressions]
        limit = current_limit()
        if len(expressions) < 2 or any(e.cost.least > limit for e in expressions):
            return
        least = sum(e.cost.least for e in expressions)
        if least > limit:
            self.findings.error(where, str(TemplateTooCostly(len(expressions), least, limit)))

    def names(
        self, expression: Expression, text: str, where: str, known: frozenset[str] | set[str]
    ) -> None:
        try:
            expression.check_cost()  # max_expression_cost, when its cost needs no data
        except ExpressionError as exc:
            self.findings.error(where, str(exc))
        for name in sorted(expression.names):
            if name in self.ids:
                self.read.add(name)
            if name not in known:
                self.findings.error(
                    where,
                    f"unknown name {name!r} in expression {text!r}"
                    f"{self.findings.hint(name, known)}",
                )
        for match in _BY_ID.finditer(text):
            target = next(group for group in match.groups() if group is not None)
            self.read.add(target)
            if target not in self.ids:
                self.findings.warn(
                    where,
                    f"expression {text!r} reads the output of {target!r}, "
                    f"which is not a step{self.findings.hint(target, self.ids)}",
                )
        for match in _BY_INDEX.finditer(text):
            index = int(match.group(1) or match.group(2))
            if index < len(self.definition.steps):
                self.read.add(self.definition.steps[index].id)
            else:
                self.findings.error(
                    where,
                    f"expression {text!r} reads step {index}, but the workflow has "
                    f"{len(self.definition.steps)} top-level steps (counted from 0)",
                )

    # -- actions, schemas, outputs --------------------------------------------------------------

    def check_actions(self) -> None:
        if self.actions is None:
            return
        readable = [step for step in self.all if self.readable(step)]
        for problem in _unknown_actions(readable, self.actions):
            self.findings.error(problem.path, problem.message)

    def check_group_retries(self) -> None:
        """A group (parallel, condition, foreach) is not retried: its children are recorded
        steps, so a second attempt would replay their outcomes. Its timeout does apply."""
        for step in self.all:
            if isinstance(step, ParallelStep | ConditionStep | ForeachStep) and step.retry:
                self.findings.error(
                    at(step, "retry"),
                    f"a {step.kind} step cannot be retried: give the retry policy to the steps "
                    "inside it (a timeout on the group does apply)",
                )

    def check_schemas(self) -> None:
        for name in ("input_schema", "output_schema"):
            schema = getattr(self.definition, name)
            self.schema(schema, self.sources.get(name, f"$.{name}"))
        for step in self.all:
            if isinstance(step, ActionStep) and self.readable(step):
                self.schema(step.input_schema, at(step, "input_schema"))
                self.schema(step.output_schema, at(step, "output_schema"))
            if isinstance(step, HumanTaskStep) and self.readable(step):
                self.schema(step.form, at(step, "form"))

    def schema(self, schema: dict[str, Any] | None, where: str) -> None:
        if schema is None:
            return
        for error in _META.iter_errors(schema):
            path = where
            for key in error.absolute_path:
                path = join(path, key)
            self.findings.error(path, f"not a valid JSON Schema: {error.message}")

    def check_unused(self) -> None:
        """Only when the workflow declares its output: otherwise every output is the result."""
        if self.definition.output is None:
            return
        for step in self.definition.steps:
            nested = {inner.id for inner in everything([step])}
            if self.readable(step) and not nested & self.read:
                self.findings.warn(
                    step.path or "$",
                    f"the output of step {step.id!r} is never used: no expression nor the "
                    "workflow output reads it",
                )


def _cycles(group: list[Step]) -> Iterator[list[str]]:
    """Dependency cycles among ``group`` (each as the ids along ``dependsOn`` edges): a depth
    first search without recursion, since a chain of steps can be as long as ``max_steps``."""
    edges = {step.id: [*step.depends_on, *step.after] for step in group}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for step in group:
        if step.id not in state:
            yield from _cycles_from(step.id, edges, state)


def _cycles_from(
    start: str, edges: dict[str, list[str]], state: dict[str, int]
) -> Iterator[list[str]]:
    path: list[str] = []
    position: dict[str, int] = {}
    stack: list[tuple[str, Iterator[str]]] = []

    def enter(node: str) -> None:
        state[node] = 1
        position[node] = len(path)
        path.append(node)
        stack.append((node, iter(edges.get(node, []))))

    enter(start)
    while stack:
        node, targets = stack[-1]
        target = next(targets, None)
        if target is None:
            stack.pop()
            path.pop()
            del position[node]
            state[node] = 2
        elif target in edges and state.get(target) == 1:
            yield path[position[target] :]
        elif target in edges and target not in state:
            enter(target)


def unknown_actions(definition: Definition, known: Callable[[str], bool]) -> list[Problem]:
    """An error for each action step of ``definition`` whose action is not ``known``."""
    machine_steps = definition.machine.steps() if definition.machine is not None else []
    return _unknown_actions(everything([*definition.steps, *machine_steps]), known)


def _unknown_actions(steps: Iterable[Step], known: Callable[[str], bool]) -> list[Problem]:
    steps = list(steps)
    # Without an action named human-review, onError: human-review opens a review task instead.
    reviews = {id(f) for s in steps if s.on_error == "human-review" for f in s.fallback
               if isinstance(f, ActionStep) and f.action == REVIEW_ACTION}  # fmt: skip
    return [
        Problem(at(step, "action"), f"unknown action {step.action!r}")
        for step in steps
        if isinstance(step, ActionStep) and id(step) not in reviews and not known(step.action)
    ]


def compile_message(exc: ExpressionError, text: str | None = None) -> str:
    """A message such as ``expression 'x +' does not compile at position 3: <reason>``."""
    shown = repr(text if text is not None else exc.expression)
    where = "" if exc.position is None else f" at position {exc.position}"
    return f"expression {shown} does not compile{where}: {exc.reason}"


def within(where: str, path: str | None) -> str:
    """A path inside a template (``$.foo[0]`` or ``foo[0]``) appended to ``where``."""
    if not path or path == "$":
        return where
    relative = path[1:] if path.startswith("$") else path
    return where + (relative if relative.startswith(("[", ".")) else "." + relative)
