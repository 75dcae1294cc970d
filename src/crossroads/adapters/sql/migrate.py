"""Schema migrations: numbered SQL files per dialect, applied once each, in order.

Each file runs in one transaction together with the row that records it, so a migration is
either wholly applied or not at all. A store opened by an older hub than its schema refuses to
start rather than guess.

On SQLite the migrations run on the store's file; the audit tables they made there are then moved
into the audit file (audit_file.py). A later migration of the audit tables must therefore run on
the audit file, not in this sequence.
"""

from __future__ import annotations

import re
from importlib import resources

from .database import Database

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.(sqlite|postgres)\.sql$")


def available(dialect: str) -> list[tuple[int, str, str]]:
    """(version, file name, SQL) for every migration of `dialect`, in version order."""
    found = []
    for entry in resources.files(__package__).joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match and match.group(2) == dialect:
            found.append((int(match.group(1)), entry.name, entry.read_text()))
    return sorted(found)


def _statements(sql: str) -> list[str]:
    """The statements of a migration file, split at each ';' outside a `$$`-quoted function body.

    Our migration files hold no other semicolon inside a statement (no literals with ';'), and
    no `$$` but around a body; comment lines are dropped first since they may hold either.
    """
    code = "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))
    statements, current = [], ""
    for i, piece in enumerate(code.split("$$")):
        if i % 2:  # inside a body: kept whole
            current += f"$${piece}$$"
            continue
        first, *rest = piece.split(";")
        current += first
        for chunk in rest:
            statements.append(current)
            current = chunk
    statements.append(current)
    return [s.strip() for s in statements if s.strip()]


async def current_version(db: Database, newest: int | None = None) -> int:
    """The store's schema version. Read without a lock when it is `newest` already (every
    start but an upgrade's): a writer stuck in its transaction then fails the start in the usual
    30 s, not in the ten minutes a migration may wait for another process's."""
    if newest is not None:
        try:
            row = await db.fetchone("SELECT MAX(version) FROM schema_migrations")
        except Exception:  # a new store has no such table yet: asked again under the lock below
            row = None
        if row is not None and row[0] == newest:
            return newest
    async with db.transaction(slow=True) as tx:  # may wait for another process's migration
        if db.dialect == "postgres":
            await tx.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
        await tx.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations"
            " (version INTEGER PRIMARY KEY, name TEXT NOT NULL)"
        )
        row = await tx.fetchone("SELECT MAX(version) FROM schema_migrations")
    return (row[0] or 0) if row else 0


async def migrate(db: Database) -> list[str]:
    """Apply the migrations this database lacks; return the names applied.

    Safe when several hub processes start at once: each migration re-reads the version under a
    lock (SQLite's write lock, a PostgreSQL advisory lock) before it applies anything.
    """
    migrations = available(db.dialect)
    newest = migrations[-1][0] if migrations else 0
    version = await current_version(db, newest)
    if version > newest:
        raise RuntimeError(
            f"the database schema is at version {version}, newer than this hub knows"
            f" ({newest}); upgrade the hub"
        )
    applied = []
    for number, name, sql in migrations:
        if number <= version:
            continue
        async with db.transaction(slow=True) as tx:  # an index on a large table takes long
            if db.dialect == "postgres":
                await tx.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            row = await tx.fetchone("SELECT 1 FROM schema_migrations WHERE version = ?", (number,))
            if row is not None:
                continue
            for statement in _statements(sql):
                await tx.execute(statement)
            await tx.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (?, ?)", (number, name)
            )
        applied.append(name)
    return applied


_MIGRATION_LOCK = 0x43524F53  # "CROS": one advisory lock id for schema changes
