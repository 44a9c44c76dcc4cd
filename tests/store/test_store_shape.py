"""The shape of the store contract: one base class whose backends implement only their
primitives, and no public verb that hands out or takes an open transaction."""

from __future__ import annotations

import inspect

from plait.store.base import Store
from plait.store.postgres.store import PostgresStore
from plait.store.sqlite.store import SQLiteStore

PRIMITIVES = {"open", "close", "schema_version", "_submit", "_read"}


def verbs() -> dict[str, object]:
    return {name: getattr(Store, name) for name in dir(Store)
            if not name.startswith("_") and callable(getattr(Store, name))}  # fmt: skip


def test_backends_implement_only_the_primitives() -> None:
    assert Store.__abstractmethods__ == PRIMITIVES
    for backend in (SQLiteStore, PostgresStore):
        assert not backend.__abstractmethods__
        overridden = {name for name in verbs() if name in vars(backend)}
        assert overridden <= PRIMITIVES, f"{backend.__name__} redefines verbs {overridden}"


def test_no_public_verb_takes_a_session() -> None:
    for name, verb in verbs().items():
        annotations = [str(p.annotation) for p in inspect.signature(verb).parameters.values()]
        assert not any("Session" in a for a in annotations), f"{name} takes a transaction"


def test_every_verb_says_what_it_does() -> None:
    undocumented = sorted(name for name, verb in verbs().items() if not inspect.getdoc(verb))
    assert undocumented == []
