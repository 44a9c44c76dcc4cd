"""The SQLite text of the named queries whose text differs from PostgreSQL's."""
