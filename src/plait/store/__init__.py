"""Storage: the ``Store`` protocol of domain verbs and its backends."""

from plait.store.base import Store
from plait.store.records import ClaimedRun, NewRun, RunRecord, StepRecord, WorkerInfo
from plait.store.urls import open_store

__all__ = ["ClaimedRun", "NewRun", "RunRecord", "StepRecord", "Store", "WorkerInfo", "open_store"]
