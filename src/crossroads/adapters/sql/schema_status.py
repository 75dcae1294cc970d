"""Where a store's schema stands against the migrations this hub ships, read without changing
anything (no table created, no SQLite file made, no lock taken): `crossroads migrate --status`,
which an upgrade runs before and after migrating (docs/operations.md)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .connect import read_only_uri
from .migrate import available
from .store import sqlite_path


@dataclass(frozen=True)
class SchemaStatus:
    exists: bool  # False: no database file yet, or no schema_migrations table in it
    applied: list[tuple[int, str]]  # (version, file name) recorded in the store
    known: list[tuple[int, str]]  # the migrations this hub ships

    @property
    def version(self) -> int:
        return max((v for v, _ in self.applied), default=0)

    @property
    def newest(self) -> int:
        return max((v for v, _ in self.known), default=0)

    @property
    def pending(self) -> list[tuple[int, str]]:
        done = {v for v, _ in self.applied}
        return [(v, name) for v, name in self.known if v not in done]

    @property
    def ahead(self) -> bool:
        """The store was migrated by a newer hub: this one refuses to start on it."""
        return self.version > self.newest


def read_schema_status(store_url: str) -> SchemaStatus:
    if store_url.startswith("sqlite:"):
        return _sqlite(sqlite_path(store_url))
    return _postgres(store_url)


def _sqlite(path: str) -> SchemaStatus:
    known = [(v, name) for v, name, _ in available("sqlite")]
    if not Path(path).exists():
        return SchemaStatus(False, [], known)
    connection = sqlite3.connect(read_only_uri(path), uri=True)
    try:
        if (
            connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
            ).fetchone()
            is None
        ):
            return SchemaStatus(False, [], known)
        rows = connection.execute(
            "SELECT version, name FROM schema_migrations ORDER BY version"
        ).fetchall()
    finally:
        connection.close()
    return SchemaStatus(True, [(int(v), n) for v, n in rows], known)


def _postgres(url: str) -> SchemaStatus:
    import psycopg

    known = [(v, name) for v, name, _ in available("postgres")]
    with psycopg.connect(
        url, autocommit=True, application_name="crossroads-migrate-status"
    ) as connection:
        table = connection.execute("SELECT to_regclass('schema_migrations')").fetchone()
        if table is None or table[0] is None:
            return SchemaStatus(False, [], known)
        rows = connection.execute(
            "SELECT version, name FROM schema_migrations ORDER BY version"
        ).fetchall()
    return SchemaStatus(True, [(int(v), n) for v, n in rows], known)
