"""SQL storage, written once for SQLite and PostgreSQL.

Queries use `?` placeholders; the PostgreSQL driver rewrites them to psycopg's `%s`. Booleans are
stored as integers, JSON as text, identifiers' keyed hashes as bytes, and dates in one of two
ways: the registry's, the directory's and the mutations' as day ordinals (integers), the
declarations' (mandates, DIMONA periods, their events: migration 0010) as ISO 8601 text, which
sorts and compares as the dates do. Each is a type that means the same in both databases.
"""
