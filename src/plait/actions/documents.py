"""Document actions: ``<Noun>.create|update|delete|get|find`` on the built-in document store.

A document as workflows see it is its fields plus ``$id``, ``$type``, ``createdAt`` and
``updatedAt``. Writes emit ``<Noun>.created`` / ``.updated`` / ``.deleted`` in the transaction
that makes them, and pass the step's id as idempotency key, so a step retried after a crash that
came between the write's commit and the step's record applies the write once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from functools import lru_cache
from typing import Any

from plait.actions.base import DOCUMENT_ACTION, Action, ActionContext, ActionError, UnknownAction
from plait.errors import InvalidQuery

DEFAULT_FIND_LIMIT = 100
MAX_FIND_LIMIT = 1000
_FIND_OPTIONS = frozenset({"where", "sort", "limit"})

Verb = Callable[[str, Any, ActionContext], Awaitable[Any]]


@lru_cache(maxsize=256)
def make_document_action(noun: str, verb: str) -> Action:
    """The action named ``<noun>.<verb>`` (for ``Actions.set_document_handler``)."""
    name = f"{noun}.{verb}"
    impl = _VERBS.get(verb)
    if impl is None or not DOCUMENT_ACTION.match(name):
        raise UnknownAction(name)

    async def document_action(input: Any, ctx: ActionContext) -> Any:
        return await impl(noun, input, ctx)

    document_action.__name__ = document_action.__qualname__ = name
    return Action.of(name, document_action)


async def _create(noun: str, input: Any, ctx: ActionContext) -> dict[str, Any]:
    fields = _object(input, f"{noun}.create")
    doc = await ctx.store.create_document(
        ctx.org, noun, fields, now=ctx.clock.time(), run_id=ctx.run_id, idempotency_key=ctx.step_id
    )
    return doc.as_dict()


async def _update(noun: str, input: Any, ctx: ActionContext) -> dict[str, Any]:
    fields = dict(_object(input, f"{noun}.update"))
    doc_id = _take_id(fields, noun, "update")
    doc = await ctx.store.update_document(
        ctx.org,
        noun,
        doc_id,
        fields,
        now=ctx.clock.time(),
        run_id=ctx.run_id,
        idempotency_key=ctx.step_id,
    )
    if doc is None:
        raise _missing(noun, doc_id)
    return doc.as_dict()


async def _delete(noun: str, input: Any, ctx: ActionContext) -> dict[str, Any]:
    doc_id = _id_only(input, noun, "delete")
    deleted = await ctx.store.delete_document(
        ctx.org, noun, doc_id, now=ctx.clock.time(), run_id=ctx.run_id, idempotency_key=ctx.step_id
    )
    return {"$id": doc_id, "deleted": deleted}


async def _get(noun: str, input: Any, ctx: ActionContext) -> dict[str, Any]:
    doc_id = _id_only(input, noun, "get")
    doc = await ctx.store.get_document(ctx.org, noun, doc_id)
    if doc is None:
        raise _missing(noun, doc_id)
    return doc.as_dict()


async def _find(noun: str, input: Any, ctx: ActionContext) -> list[dict[str, Any]]:
    where, sort, limit = _find_query(noun, input)
    try:
        docs = await ctx.store.find_documents(ctx.org, noun, where, sort, limit)
    except InvalidQuery as exc:
        raise ActionError(f"{noun}.find: {exc}") from exc
    return [doc.as_dict() for doc in docs]


_VERBS: dict[str, Verb] = {
    "create": _create,
    "update": _update,
    "delete": _delete,
    "get": _get,
    "find": _find,
}


def _find_query(noun: str, input: Any) -> tuple[dict[str, Any], str | None, int]:
    """``{where, sort, limit}``, or a plain object of equality filters (any other key)."""
    action = f"{noun}.find"
    spec = _object({} if input is None else input, action)
    if not set(spec) <= _FIND_OPTIONS:
        return dict(spec), None, DEFAULT_FIND_LIMIT
    where = _object({} if spec.get("where") is None else spec["where"], f"{action}: 'where'")
    sort = spec.get("sort")
    limit = spec.get("limit", DEFAULT_FIND_LIMIT)
    if sort is not None and (not isinstance(sort, str) or sort in ("", "-")):
        raise ActionError(f"{action}: 'sort' must be a field name, '-' first for descending")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= MAX_FIND_LIMIT:
        raise ActionError(f"{action}: 'limit' must be an integer from 1 to {MAX_FIND_LIMIT}")
    return dict(where), sort, limit


def _take_id(fields: dict[str, Any], noun: str, verb: str) -> str:
    """Pop the document's id from ``fields``: ``$id``, or ``id`` when there is no ``$id``."""
    doc_id = fields.pop("$id", None)
    if doc_id is None:
        doc_id = fields.pop("id", None)
    if not isinstance(doc_id, str) or not doc_id:
        raise ActionError(f"{noun}.{verb}: the input needs the document's '$id'")
    return doc_id


def _id_only(input: Any, noun: str, verb: str) -> str:
    if isinstance(input, str):
        return _take_id({"$id": input}, noun, verb)
    return _take_id(dict(_object(input, f"{noun}.{verb}")), noun, verb)


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ActionError(f"{what}: expected an object, got {type(value).__name__}")
    return value


def _missing(noun: str, doc_id: str) -> ActionError:
    return ActionError(f"no {noun} with $id {doc_id!r}")
