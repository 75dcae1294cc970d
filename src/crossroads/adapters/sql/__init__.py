"""SQL storage, written once for SQLite and PostgreSQL.

Queries use `?` placeholders; the PostgreSQL driver rewrites them to psycopg's `%s`. Dates are
stored as day ordinals (integers), booleans as integers, JSON as text, identifiers' keyed hashes
as bytes: types that mean the same in both databases.
"""
