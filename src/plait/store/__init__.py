"""Storage: the ``Store`` base class of domain verbs (``plait.store.base``), its records
(``plait.store.records``), and its backends (``plait.store.sqlite``, ``plait.store.postgres``).

Import what you need from those modules; this package imports none of them itself, so reading
the records does not load every verb of the store.
"""
