"""``engine.tasks``: people's inboxes of human tasks, and completing a task.

Completing checks, in this order, and changes nothing when a check fails: the task exists in
the organization (``TaskNotFound``, 404), it is still open (``TaskNotOpen``, 409, saying how it
ended), the completer may complete it (``TaskForbidden``, 403), and the answer fits it
(``InvalidDecision``, 422: a decision among its choices, data valid against its form). Then one
transaction completes the task (compare-and-set), completes the run's waiting step with the
result, wakes the run and emits ``HumanTask.completed``.

Who may complete: a task may be completed by its assignee (a task assigned to ``*``, the
organization's shared inbox, by anyone); completing another person's task needs
``as_admin=True`` (the API sets it for keys with the admin role), and is recorded as done
on that person's behalf. The completer is decided thus:

- ``user`` (the person an API key is bound to): the completer is that person. A ``by`` naming
  someone else is refused (``TaskForbidden``) unless ``as_admin``: a person's key never passes
  as another person.
- otherwise ``by``, an identity the caller vouches for (Python callers; unbound API keys); and
  without it ``via``, the key itself (``key:<id>``).

``via`` (the API key, ``key:<id>``) is stored with the completion, so the task shows both who
decided and through which key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from plait.errors import InvalidDecision, InvalidQuery, TaskForbidden, TaskNotFound, TaskNotOpen
from plait.resources.tasks import Task, TaskPage
from plait.runtime.human import ANYONE
from plait.service.audit import Change, audited
from plait.service.pages import check_limit, keyset_after, keyset_slice
from plait.store.records import TASK_STATUSES, Completion, TaskRecord, iso_time

if TYPE_CHECKING:
    from plait.service.deps import Deps

_ATTEMPTS = 3  # an escalation between the checks and the write: check again


class TaskService:
    """Human tasks of one organization (another's are reported as not found)."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def get(self, org: str, task_id: str) -> Task:
        """The task; ``TaskNotFound`` if there is none."""
        return Task.of(await self._fetch(org, task_id))

    async def find(
        self,
        org: str,
        *,
        assignee: str | None = None,
        status: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> TaskPage:
        """Tasks, newest first, a page at a time: a person's inbox is ``find(org,
        assignee=..., status="open")``; ``cursor`` is the previous page's ``next_cursor``
        (keyset ``(created_at, id)`` in SQL, so every task is reachable)."""
        if status is not None and status not in TASK_STATUSES:
            raise InvalidQuery(
                f"unknown task status {status!r}; use one of {', '.join(TASK_STATUSES)}"
            )
        check_limit(limit)
        after = keyset_after(cursor, "tasks", (float, str))
        store = await self.deps.store()
        rows = await store.list_tasks(org, assignee, status, limit + 1, after)
        shown, next_cursor = keyset_slice(rows, limit, "tasks", lambda t: [t.created_at, t.id])
        return TaskPage(items=[Task.of(t) for t in shown], next_cursor=next_cursor)

    async def complete(
        self,
        org: str,
        task_id: str,
        *,
        by: str | None = None,
        decision: str | None = None,
        comment: str | None = None,
        data: Any = None,
        as_admin: bool = False,
        user: str | None = None,
        via: str | None = None,
    ) -> Task:
        """Complete a task as ``by`` (or as ``user``, the person the caller's key is bound to)
        and resume its run; return the completed task. ``via`` names the API key used.

        Raises ``TaskNotFound``, ``TaskNotOpen`` (a second completion, or an expired or
        cancelled task), ``TaskForbidden`` (someone else's task, or a bound key naming another
        person, without ``as_admin``) or ``InvalidDecision``; in each case nothing changes.
        """
        async with audited(self.deps, org, "complete", "task", task_id, by=by or user) as change:
            answer = _Answer(by, decision, comment, data, as_admin, user, via)
            return await self._complete(org, task_id, answer, change)

    async def _complete(self, org: str, task_id: str, a: _Answer, change: Change) -> Task:
        store = await self.deps.store()
        for _ in range(_ATTEMPTS):
            task = await self._fetch(org, task_id)
            change.run = task.run_id
            _check_open(task)
            completer = _completer(task, a.by, a.user, a.via, a.as_admin)
            chosen = _check_answer(task, a.decision, a.data)
            change.details = {"assignee": task.assignee, "completedBy": completer,
                              "decision": chosen}  # fmt: skip
            now = self.deps.now()
            answer = Completion(chosen, a.comment, a.data, completer, now, a.via)
            stored, done = await store.complete_task(org, task_id, task.assignee, answer)
            if done and stored is not None:
                return Task.of(stored)
            if stored is None:
                raise TaskNotFound(task_id)
            _check_open(stored)  # lost a race: say to whom
        raise TaskNotOpen(task_id, "being reassigned", "; try again")

    async def _fetch(self, org: str, task_id: str) -> TaskRecord:
        store = await self.deps.store()
        task = await store.get_task(org, task_id)
        if task is None:
            raise TaskNotFound(task_id)
        return task


@dataclass(frozen=True, slots=True)
class _Answer:
    """What a caller completes a task with, and who it says it is."""

    by: str | None
    decision: str | None
    comment: str | None
    data: Any
    as_admin: bool
    user: str | None
    via: str | None


def _check_open(task: TaskRecord) -> None:
    if task.status == "open":
        return
    if task.status == "completed":
        when = iso_time(task.completed_at) if task.completed_at is not None else "?"
        detail = f" ({task.completed_by} decided {task.decision!r} at {when})"
    elif task.status == "expired":
        due = iso_time(task.due_at) if task.due_at is not None else "?"
        detail = f" (it was due at {due})"
    else:
        detail = " (its run was cancelled)"
    raise TaskNotOpen(task.id, task.status, detail)


def _completer(
    task: TaskRecord, by: str | None, user: str | None, via: str | None, as_admin: bool
) -> str:
    """Who completes ``task``; ``TaskForbidden`` if the caller may not complete it as them."""
    if user is not None and by is not None and by != user and not as_admin:
        raise TaskForbidden(
            task.id,
            f"the API key acts for {user!r}; completing as {by!r} needs an admin key",
        )
    completer = by or user or via
    if not isinstance(completer, str) or not completer:
        raise InvalidDecision(task.id, "say who completes the task ('by')", "$.body.by")
    if completer != task.assignee and task.assignee != ANYONE and not as_admin:
        raise TaskForbidden(
            task.id,
            f"it is assigned to {task.assignee!r}; completing it as {completer!r} needs the "
            "admin role",
        )
    return completer


def _check_answer(task: TaskRecord, decision: str | None, data: Any) -> str | None:
    """The decision to store, after checking it (and ``data``) against the task."""
    if task.choices is not None:
        offered = ", ".join(repr(c) for c in task.choices)
        if decision is None:
            raise InvalidDecision(task.id, f"a decision is required, one of {offered}")
        chosen = offered_choice(decision, task.choices)
        if chosen is None:
            raise InvalidDecision(
                task.id, f"decision {decision!r} is not offered; choose one of {offered}"
            )
        decision = chosen
    if task.form is not None:
        _check_form_data(task, data)
        if task.choices is None and decision is None:
            return "submitted"
    return decision


def offered_choice(decision: str, choices: list[str]) -> str | None:
    """The offered choice ``decision`` names: itself, or the same word in the other tense (the
    brief writes both ``'reject'`` and ``decision === 'approved'``): ``approved`` picks an
    offered ``approve``, ``reject`` an offered ``rejected``. None if it names none."""
    if decision in choices:
        return decision
    said = decision.strip().lower()
    for choice in choices:
        word = choice.lower()
        if said in _past(word) or word in _past(said):
            return choice
    return None


_VOWELS = frozenset("aeiou")


def _past(word: str) -> set[str]:
    """The past-tense spellings of ``word`` (English regular verbs): ``approve``: approved;
    ``retry``: retried; ``skip``: skipped; ``submit``: submitted; ``cancel``: cancelled and
    canceled; ``escalate``: escalated."""
    forms = {word + "d", word + "ed"}
    if len(word) > 1 and word.endswith("y") and word[-2] not in _VOWELS:
        forms.add(word[:-1] + "ied")
    if _doubles(word):
        forms.add(word + word[-1] + "ed")
    return forms


def _doubles(word: str) -> bool:
    """Whether the final consonant may double before ``-ed``: a single vowel before it (skip,
    submit, cancel; not after two vowels, as in fail, nor w, x or y). Where English does not
    double (opened), the doubled form is one more spelling that no one writes."""
    if len(word) < 3 or word[-1] in _VOWELS or word[-1] in "wxy":
        return False
    return word[-2] in _VOWELS and word[-3] not in _VOWELS


def _check_form_data(task: TaskRecord, data: Any) -> None:
    from jsonschema import Draft202012Validator

    assert task.form is not None
    problems = sorted(Draft202012Validator(task.form).iter_errors(data),
                      key=lambda e: list(e.absolute_path))  # fmt: skip
    if problems:
        first = problems[0]
        where = "$.body.data" + "".join(f"[{p!r}]" for p in first.absolute_path)
        listing = "; ".join(
            f"{'data' + ''.join(f'[{p!r}]' for p in e.absolute_path)}: {e.message}"
            for e in problems
        )
        raise InvalidDecision(task.id, f"the data does not match the task's form: {listing}",
                              where)  # fmt: skip
