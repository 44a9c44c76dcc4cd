"""The PostgreSQL text of the named queries whose text differs from SQLite's.

Same names, named parameters and result columns (in order) as the SQLite queries. A parameter is
written as a colon and its name, so the text of these files (comments and string literals too)
never puts a colon right before a letter, and casts are ``CAST(x AS type)``. Parameters that can
be NULL where nothing else fixes their type are cast, since PostgreSQL must know the type of
every parameter. Text ``ORDER BY`` keys use ``COLLATE "C"`` to sort bytewise, as SQLite does,
whatever the collation of the database.
"""
