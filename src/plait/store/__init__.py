"""Storage: the ``Store`` base class of domain verbs (``plait.store.base``), its records
(``plait.store.records``), and its backends (``plait.store.sqlite``, ``plait.store.postgres``)."""

from plait.store.base import Store
from plait.store.urls import open_store

__all__ = ["Store", "open_store"]
