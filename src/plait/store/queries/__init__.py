"""The named queries both dialects run, one ``.sql`` file per feature module of the store.

Each dialect's ``queries`` package holds only the queries whose text differs between SQLite and
PostgreSQL; ``plait.store.sql.load_dialect`` merges the two, a dialect's query replacing the
shared one of the same name. A test fails if a query is written identically twice.

Parameters are written as a colon and their name (PostgreSQL's backend rewrites them), so the
text of a query never puts a colon right before a letter otherwise; casts are
``CAST(x AS type)``. Queries select their columns in the order of the fields of the record they
build.
"""
