"""Documents: what document actions (``Deal.create``) store, and the events their writes emit.

Documents are the exception to encoded values: their verbs take and return dicts, because the
store merges patches and builds the ``<Noun>.created`` / ``.updated`` / ``.deleted`` event of
each write from the document, in the transaction of the write.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from plait.errors import InvalidQuery, SerializationError
from plait.ids import new_id
from plait.store.backend import Backend
from plait.store.events import store_event
from plait.store.records import DOCUMENT_FIELDS, DocumentRecord, EventRecord, keyed_event_id
from plait.store.session import Session
from plait.values import encode, offending_type


class DocumentVerbs(Backend):
    """The documents of each organization, by noun."""

    async def create_document(
        self,
        org: str,
        noun: str,
        data: Mapping[str, Any],
        *,
        now: float,
        run_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> DocumentRecord:
        """Store a new ``noun`` document (id ``<noun>_…``) and emit ``<Noun>.created``.

        The event's data is the document (``as_dict``). Fields named like the computed ones
        (``DOCUMENT_FIELDS``) are not stored. Atomic: the document and its event commit together.
        With ``idempotency_key``, a second create under the same key in ``org`` creates nothing
        and returns the document the first one created (as it is now).
        """
        text = _json(_fields(data), "a document")
        doc = DocumentRecord(org, noun, new_id(noun.lower()), orjson.loads(text), now, now, 1)
        params = {
            "org": org, "noun": noun, "id": doc.id, "data": text, "now": now,
            "idempotency_key": idempotency_key,
        }  # fmt: skip
        event = _document_event(doc, "created", doc.as_dict(), run_id, idempotency_key)

        def op(db: Session) -> DocumentRecord:
            if db.run("insert_document", params).rowcount == 0:
                row = db.run("document_by_idempotency_key", params).fetchone()
                return _document(row)
            store_event(db, event)
            return doc

        created: DocumentRecord = await self._submit(op)
        return created

    async def update_document(
        self,
        org: str,
        noun: str,
        id: str,
        patch: Mapping[str, Any],
        *,
        now: float,
        run_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> DocumentRecord | None:
        # Normalised to decoded JSON here, so that the merge inside the batch cannot fail.
        """Merge ``patch`` into the document's top-level fields, bump its version, and emit
        ``<Noun>.updated`` with the updated document; ``None`` (and no event) if there is none.

        Atomic: the read, the write and the event happen in one transaction. With
        ``idempotency_key``, an update whose event is already stored is not applied again; the
        document is returned as it is now.
        """
        changes = orjson.loads(_json(_fields(patch), "a document update"))
        key = {"org": org, "noun": noun, "id": id}

        def op(db: Session) -> DocumentRecord | None:
            row = db.run("get_document", key).fetchone()
            if row is None or _applied(db, org, idempotency_key):
                return None if row is None else _document(row)
            merged = orjson.dumps({**orjson.loads(row[3]), **changes}).decode()
            params = {**key, "data": merged, "now": now}
            doc = _document(db.run("update_document", params).fetchone())
            event = _document_event(doc, "updated", doc.as_dict(), run_id, idempotency_key)
            store_event(db, event)
            return doc

        updated: DocumentRecord | None = await self._submit(op)
        return updated

    async def delete_document(
        self,
        org: str,
        noun: str,
        id: str,
        *,
        now: float,
        run_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> bool:
        """Delete the document and emit ``<Noun>.deleted`` (data ``{"$id": id}``) in one
        transaction; ``False`` (and no event) if there was none.

        With ``idempotency_key``, a delete whose event is already stored returns ``True`` again.
        """
        gone = DocumentRecord(org, noun, id, {}, now, now, 0)
        event = _document_event(gone, "deleted", {"$id": id}, run_id, idempotency_key)

        def op(db: Session) -> bool:
            if _applied(db, org, idempotency_key):
                return True
            if db.run("delete_document", {"org": org, "noun": noun, "id": id}).rowcount == 0:
                return False
            store_event(db, event)
            return True

        deleted: bool = await self._submit(op)
        return deleted

    async def get_document(self, org: str, noun: str, id: str) -> DocumentRecord | None:
        """The ``noun`` document with ``id`` in ``org``, or ``None``."""
        row = await self._one("get_document", {"org": org, "noun": noun, "id": id})
        return None if row is None else _document(row)

    async def find_documents(
        self,
        org: str,
        noun: str,
        where: Mapping[str, Any],
        sort: str | None,
        limit: int,
    ) -> list[DocumentRecord]:
        """Up to ``limit`` ``noun`` documents whose top-level fields equal ``where``'s values.

        Numbers compare by value (``1 == 1.0``), booleans only with booleans, ``None`` matches
        a null or missing field, objects and lists by their JSON text. ``sort`` names a field
        (or ``createdAt``, ``updatedAt``, ``$id``), descending with a leading ``-``; documents
        without it come first ascending, last descending. Ties and no sort: oldest first.
        Raises ``InvalidQuery`` for a computed field in ``where`` or a field name with ``"``.
        """
        for name in where:
            _check_field(name, "filter on")
        field, descending = (sort[1:], True) if sort and sort.startswith("-") else (sort, False)
        if field is not None and field not in DOCUMENT_FIELDS:
            _check_field(field, "sort by")
        params = {
            "org": org, "noun": noun, "where": _json(dict(where), "a filter"), "sort": field,
            "descending": descending, "limit": limit,
        }  # fmt: skip
        return [_document(row) for row in await self._all("find_documents", params)]


def _json(value: Any, what: str) -> str:
    try:
        return encode(value).decode()
    except TypeError as exc:
        raise SerializationError(what, offending_type(value), str(exc)) from exc


def _fields(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in DOCUMENT_FIELDS}


def _check_field(name: str, verb: str) -> None:
    if name in DOCUMENT_FIELDS or not name or '"' in name:
        raise InvalidQuery(f"cannot {verb} field {name!r}: name a top-level field of the data")


def _document_event(
    doc: DocumentRecord, verb: str, data: Any, run_id: str | None, key: str | None
) -> EventRecord:
    event_id = keyed_event_id(key) if key is not None else new_id("event")
    payload = orjson.dumps(data)  # the document's data is decoded JSON, so this cannot fail
    return EventRecord(
        event_id, doc.org, f"{doc.noun}.{verb}", payload, "document", run_id, doc.updated_at
    )


def _applied(db: Session, org: str, key: str | None) -> bool:
    """Whether the write made under ``key`` already committed (its event is stored)."""
    if key is None:
        return False
    params = {"org": org, "id": keyed_event_id(key)}
    return db.run("event_exists", params).fetchone() is not None


def _document(row: Sequence[Any]) -> DocumentRecord:
    return DocumentRecord(row[0], row[1], row[2], orjson.loads(row[3]), row[4], row[5], row[6])
