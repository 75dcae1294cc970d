"""A SQLite hub's audit log in a file of its own, beside the store's.

SQLite lets one writer at a time into a file. With the audit log in the store's file, the audit
writers (one a hub process, each commit synced) and the event loops' transactions (the outbox,
deliveries, acknowledgements) took turns at one lock: under `bench mutations` at 6,700
publications a second a probe found that lock held 78 % of the time, and the deliveries fell
behind with 30 % of the processor idle (docs/benchmarks.md, "The audit log in a file of its
own"). In two files the two kinds of writer each have their own lock and their own log.

Nothing commits an audit entry together with the effect it records, even in one file: the
services append the record first and store the effect after it, each in its own transaction
(services/push.py, services/mutations.py), and with `synchronous=FULL` on both files a record is
on disk before its effect's transaction begins. Two files keep that order.

The tables move once, when a store made by an earlier version is opened (`move_audit_tables`):
the migrations still create them in the store's file, so that the schema has one history; a new
store's are moved while empty.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .connect import sqlite_connect

# The audit log, its Merkle tree, the signed tree heads with their witnesses' cosignatures, and
# the archive's segments: what `crossroads audit verify` reads together.
AUDIT_TABLES = (
    "audit_log",
    "merkle_nodes",
    "tree_heads",
    "tree_head_cosignatures",
    "audit_segments",
)


def audit_path(store_path: str) -> str:
    """The audit file beside the store's file: `hub.sqlite3` -> `hub.audit.sqlite3` (any other
    name gets `.audit.sqlite3` added)."""
    path = Path(store_path)
    stem = path.name[: -len(".sqlite3")] if path.name.endswith(".sqlite3") else path.name
    return str(path.with_name(f"{stem}.audit.sqlite3"))


def move_audit_tables(store_path: str, wait_seconds: float = 600.0) -> bool:
    """Move the audit tables from the store's file into the audit file, if they are still in the
    store's; return whether they were moved. Safe when several hub processes start at once, and
    after a crash at any point. Raises MissingAuditFile when neither file holds the log, and
    AuditFilesDiffer when both hold one and they differ.

    In two transactions, since SQLite in WAL mode commits each file on its own: the audit file
    first takes the tables whole, then the store's file drops them. Between the two, both hold the
    same log; the next start finds it so and only drops the store's copy. No hub process appends
    before its own move is done (it runs before the store is opened for use)."""
    target = audit_path(store_path)
    created = not Path(target).exists()
    # The audit file's connection, with the store's file attached: the statements that made the
    # tables there (sqlite_master) make them here unchanged, in this connection's main schema.
    conn = sqlite_connect(target, busy_timeout_ms=int(wait_seconds * 1000))
    try:
        conn.execute("ATTACH DATABASE ? AS store", (store_path,))
        # Read first, without a lock: at every start but the first the tables have moved, and the
        # processes already serving are not held up.
        if conn.execute(_STORE_HOLDS_LOG).fetchone() is not None:
            # Both files' write locks, so that another process starting now waits for this move
            # and then finds nothing left to move.
            conn.execute("BEGIN IMMEDIATE")
            try:
                present = _copy_tables(conn, store_path, target)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            # No process appends before its own move returned, after this drop: so every copy
            # (each of the store's whole tables) was made before any entry was appended.
            if present and _drop_from_store(conn):
                return True
        if conn.execute(_HOLDS_LOG).fetchone() is None:
            raise MissingAuditFile(store_path, target)
        return False
    except MissingAuditFile:
        conn.close()
        if created:  # the empty file this check made is not left behind to mislead
            for suffix in ("", "-wal", "-shm"):
                Path(target + suffix).unlink(missing_ok=True)
        raise
    finally:
        conn.close()


def _copy_tables(conn: sqlite3.Connection, store_path: str, target: str) -> list[str]:
    """In the open transaction: the audit tables the store's file holds, made again in the audit
    file with their rows and indexes; their names. An audit file that holds them already (a move
    stopped before the store's file dropped them) must hold the same rows: one that differs (an
    old store put back beside a live audit file, say) is never written over (AuditFilesDiffer)."""
    schema = conn.execute(
        "SELECT type, tbl_name, sql FROM store.sqlite_master"
        f" WHERE tbl_name IN ({', '.join('?' * len(AUDIT_TABLES))}) AND sql IS NOT NULL"
        " ORDER BY type = 'index', rowid",
        AUDIT_TABLES,
    ).fetchall()
    present = [table for kind, table, _ in schema if kind == "table"]
    held = {
        row[0]
        for row in conn.execute(
            "SELECT name FROM main.sqlite_master WHERE type = 'table'"
            f" AND name IN ({', '.join('?' * len(AUDIT_TABLES))})",
            AUDIT_TABLES,
        )
    }
    if not present:
        return []
    if held:
        differing = [t for t in present if t not in held or not _same_rows(conn, t)]
        if differing:
            raise AuditFilesDiffer(store_path, target, differing)
        return present  # copied already, by the move that stopped
    for kind, table, sql in schema:
        conn.execute(sql)
        if kind == "table":
            conn.execute(f"INSERT INTO main.{table} SELECT * FROM store.{table}")
    return present


def _same_rows(conn: sqlite3.Connection, table: str) -> bool:
    try:
        [count] = conn.execute(
            f"SELECT (SELECT COUNT(*) FROM main.{table}) = (SELECT COUNT(*) FROM store.{table})"
            f" AND NOT EXISTS (SELECT * FROM store.{table} EXCEPT SELECT * FROM main.{table})"
        ).fetchone()
    except sqlite3.OperationalError:  # not even the same columns
        return False
    return bool(count)


def _drop_from_store(conn: sqlite3.Connection) -> bool:
    """The second transaction: the store's file lets go of the tables the audit file now holds;
    whether any were left to drop. Processes starting together may each have copied them (every
    copy before the first drop, and each the same rows); the first to get here drops them."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        left = {
            row[0]
            for row in conn.execute(
                "SELECT name FROM store.sqlite_master WHERE type = 'table'"
                f" AND name IN ({', '.join('?' * len(AUDIT_TABLES))})",
                AUDIT_TABLES,
            )
        }
        for table in reversed(AUDIT_TABLES):
            if table in left:
                conn.execute(f"DROP TABLE store.{table}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return bool(left)


_HOLDS_LOG = "SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = 'audit_log'"
_STORE_HOLDS_LOG = "SELECT 1 FROM store.sqlite_master WHERE type = 'table' AND name = 'audit_log'"


class MissingAuditFile(RuntimeError):
    """The store's audit tables were moved to the audit file, which is gone or holds none (a
    store restored or copied without it): the hub does not start on an empty log."""

    def __init__(self, store_path: str, target: str) -> None:
        super().__init__(
            f"the audit log of the store {store_path} is kept in {target}, which is missing or"
            " holds no audit log: restore it beside the store, as `crossroads backup` copied it"
            ' (docs/operations.md, "Backup and restore")'
        )


class AuditFilesDiffer(RuntimeError):
    """The store's file still holds audit tables, and the audit file holds others: neither is
    written over, since one of them is the hub's log and the other is not."""

    def __init__(self, store_path: str, target: str, tables: list[str]) -> None:
        super().__init__(
            f"both {store_path} and {target} hold an audit log, and they differ"
            f" ({', '.join(tables)}): an earlier version's store put back beside a newer audit"
            " file? Keep the audit file that belongs with the store, move the other aside, and"
            ' start again (docs/operations.md, "Backup and restore")'
        )
