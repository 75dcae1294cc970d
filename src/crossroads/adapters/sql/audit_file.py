"""A SQLite hub's audit log in a file of its own, beside the store's.

SQLite lets one writer at a time into a file. With the audit log in the store's file, the audit
writers (one per hub process, each commit synced) and the event loops' transactions (the outbox,
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

import json
import sqlite3
from contextlib import closing
from pathlib import Path

from .connect import read_only_uri, sqlite_connect

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


def where_the_log_is(store_path: str) -> str | None:
    """The file that holds the store's audit log, read without writing (the audit file, or the
    store's own file before the move); None when neither does."""
    for file in (audit_path(store_path), store_path):
        if not Path(file).is_file():
            continue
        with closing(sqlite3.connect(read_only_uri(file), uri=True)) as conn:
            try:
                if conn.execute(_HOLDS_LOG).fetchone() is not None:
                    return file
            except sqlite3.DatabaseError as exc:  # not a database: it holds no log
                if not _unreadable(exc):
                    raise
    return None


def move_audit_tables(store_path: str, wait_seconds: float = 600.0) -> bool:
    """Move the audit tables from the store's file into the audit file, if they are still in the
    store's; return whether this call moved them. Safe when several hub processes start at once,
    and after a crash at any point. Raises an AuditFileRefused (MissingAuditFile when neither
    file holds the log, AuditFilesDiffer when both hold one and neither contains the other,
    UnreadableAuditFile) rather than write over a log or start an empty one.

    In two transactions, since SQLite in WAL mode commits each file on its own: the audit file
    first takes the tables whole, then the store's file drops them, if nothing was written to
    them since (an old-version process still running); otherwise the copy is made again. Between
    the two both hold the log, and the next start finds the audit file's copy contained in the
    store's and makes it again. No hub process of this version appends before its own move is
    done (it runs before the store is opened for use)."""
    target = audit_path(store_path)
    created = not Path(target).exists()
    try:
        # The audit file's connection, with the store's file attached: the statements that made
        # the tables there (sqlite_master) make them here unchanged, in this connection's main
        # schema.
        conn = sqlite_connect(target, busy_timeout_ms=int(wait_seconds * 1000))
    except sqlite3.DatabaseError as exc:  # it reads the file's header: not a database
        if not _unreadable(exc):
            raise
        raise UnreadableAuditFile(target, exc) from exc
    try:
        conn.execute("ATTACH DATABASE ? AS store", (store_path,))
        return _move(conn, store_path, target)
    except MissingAuditFile:
        conn.close()
        if created:  # the empty file this check made is not left behind to mislead
            for suffix in ("", "-wal", "-shm"):
                Path(target + suffix).unlink(missing_ok=True)
        raise
    finally:
        conn.close()


def _unreadable(exc: sqlite3.DatabaseError) -> bool:
    return "not a database" in str(exc) or "malformed" in str(exc)


_ATTEMPTS = 3  # copies made again while an old process writes to the store's tables


def _move(conn: sqlite3.Connection, store_path: str, target: str) -> bool:
    for _ in range(_ATTEMPTS):
        # Read first, without a lock: at every start but the first the tables have moved, and the
        # processes already serving are not held up.
        if conn.execute(_STORE_HOLDS_LOG).fetchone() is None:
            break
        # Both files' write locks, so that another process starting now waits for this copy.
        conn.execute("BEGIN IMMEDIATE")
        try:
            copied = _copy_tables(conn, store_path, target)
        except BaseException:
            if conn.in_transaction:  # SQLite may have rolled back already (an I/O error)
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        if copied is None:  # another process moved them meanwhile
            break
        dropped = _drop_from_store(conn, copied)
        if dropped is not None:
            # The audit file's copy is the log now: the mark that it was only a copy goes.
            conn.execute(f"DROP TABLE IF EXISTS main.{_COPY_MARK}")
            return dropped
    else:
        raise AuditFilesDiffer(
            store_path,
            target,
            ["audit_log"],
            "a process of an earlier version still appends to the store's file: stop it",
        )
    if conn.execute(_HOLDS_LOG).fetchone() is None:
        raise MissingAuditFile(store_path, target)
    return False


Fingerprint = tuple[tuple[float, ...], ...]


def _copy_tables(conn: sqlite3.Connection, store_path: str, target: str) -> Fingerprint | None:
    """In the open transaction: make the audit file hold the store's audit tables, with their
    rows and indexes; return the store's tables' fingerprint (None: they are gone already).

    An audit file that holds the tables already is made again from the store's when it is still
    the copy a move made (its fingerprint as the move marked it: nothing appended since, so an
    old-version process may have changed the store's rows in any way meanwhile) or when its rows
    are all in the store's; it keeps them when the store's are empty (a new store's, beside a log
    kept); and otherwise it is never written over (an old store put back beside the log written
    since: AuditFilesDiffer)."""
    schema = conn.execute(
        "SELECT type, tbl_name, sql FROM store.sqlite_master"
        f" WHERE tbl_name IN ({_MARKS}) AND sql IS NOT NULL ORDER BY type = 'index', rowid",
        AUDIT_TABLES,
    ).fetchall()
    present = [table for kind, table, _ in schema if kind == "table"]
    if not present:
        return None
    held = _tables(conn, "main")
    fingerprint = _fingerprint(conn, "store", present)
    if held and not _still_the_copy(conn, held):
        if set(present) <= held and not any(count for count, *_ in fingerprint):
            return fingerprint
        differing = [
            t for t in AUDIT_TABLES if t in held and (t not in present or not _contained(conn, t))
        ]
        if differing:
            raise AuditFilesDiffer(store_path, target, differing)
    for table in reversed(AUDIT_TABLES):
        conn.execute(f"DROP TABLE IF EXISTS main.{table}")
    for kind, table, sql in schema:
        conn.execute(sql)
        if kind == "table":
            conn.execute(f"INSERT INTO main.{table} SELECT * FROM store.{table}")
    conn.execute(f"DROP TABLE IF EXISTS main.{_COPY_MARK}")
    conn.execute(f"CREATE TABLE main.{_COPY_MARK} (fingerprint TEXT NOT NULL)")
    conn.execute(f"INSERT INTO main.{_COPY_MARK} VALUES (?)", (json.dumps(fingerprint),))
    return fingerprint


# Made with a move's copy, dropped once the store's file has let go of the tables: while it is
# there and the copy's fingerprint has not moved, no hub process has appended to the copy.
_COPY_MARK = "audit_move_copy"


def _still_the_copy(conn: sqlite3.Connection, held: set[str]) -> bool:
    try:
        row = conn.execute(f"SELECT fingerprint FROM main.{_COPY_MARK}").fetchone()
    except sqlite3.OperationalError:  # no mark: not a move's copy, or the move was completed
        return False
    now = _fingerprint(conn, "main", sorted(held))
    return row is not None and json.loads(row[0]) == json.loads(json.dumps(now))


def _drop_from_store(conn: sqlite3.Connection, copied: Fingerprint) -> bool | None:
    """The second transaction: the store's file lets go of the tables the audit file now holds;
    whether any were left to drop (processes starting together may each have copied them, the
    same rows; the first here drops them), or None when they changed since the copy."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        left = [t for t in AUDIT_TABLES if t in _tables(conn, "store")]
        if left and _fingerprint(conn, "store", left) != copied:
            conn.execute("ROLLBACK")
            return None
        for table in reversed(left):
            conn.execute(f"DROP TABLE store.{table}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return bool(left)


def _tables(conn: sqlite3.Connection, schema: str) -> set[str]:
    return {
        row[0]
        for row in conn.execute(
            f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table' AND name IN ({_MARKS})",
            AUDIT_TABLES,
        )
    }


def _fingerprint(conn: sqlite3.Connection, schema: str, tables: list[str]) -> Fingerprint:
    """Each table's row count and sums over its rows' keys: what an append, a deletion, a leaf
    index given by a sequencer or a segment's prune mark moves. Read whole, twice a move.
    TOTAL, not SUM: a float, where SUM stops with an error past 2^63."""
    sums = {
        "audit_log": "TOTAL(seq), TOTAL(COALESCE(leaf_index + 1, 0))",
        "merkle_nodes": "TOTAL(level), TOTAL(position)",
        "tree_heads": "TOTAL(tree_size), 0",
        "tree_head_cosignatures": "TOTAL(tree_size), 0",
        "audit_segments": "TOTAL(end_index), TOTAL(COALESCE(pruned_at_ms, 0))",
    }
    return tuple(
        tuple(conn.execute(f"SELECT COUNT(*), {sums[t]} FROM {schema}.{t}").fetchone())
        for t in sorted(tables)
    )


def _contained(conn: sqlite3.Connection, table: str) -> bool:
    """Every row of the audit file's `table` is in the store's."""
    try:
        [none] = conn.execute(
            f"SELECT NOT EXISTS (SELECT * FROM main.{table} EXCEPT SELECT * FROM store.{table})"
        ).fetchone()
    except sqlite3.OperationalError:  # not even the same columns
        return False
    return bool(none)


_MARKS = ", ".join("?" * len(AUDIT_TABLES))
_HOLDS_LOG = "SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = 'audit_log'"
_STORE_HOLDS_LOG = "SELECT 1 FROM store.sqlite_master WHERE type = 'table' AND name = 'audit_log'"


class AuditFileRefused(RuntimeError):
    """The hub does not start on this pair of files; the message says why and what to do."""


class MissingAuditFile(AuditFileRefused):
    """The store's audit tables were moved to the audit file, which is gone or holds none (a
    store restored or copied without it): the hub does not start on an empty log."""

    def __init__(self, store_path: str, target: str) -> None:
        super().__init__(
            f"the audit log of the store {store_path} is kept in {target}, which is missing or"
            " holds no audit log: restore it beside the store, as `crossroads backup` copied it"
            ' (docs/operations.md, "Backup and restore")'
        )


class AuditFilesDiffer(AuditFileRefused):
    """The store's file still holds audit tables, and the audit file holds others: neither is
    written over, since one of them is the hub's log and the other is not."""

    def __init__(
        self, store_path: str, target: str, tables: list[str], reason: str | None = None
    ) -> None:
        super().__init__(
            f"both {store_path} and {target} hold an audit log, and they differ"
            f" ({', '.join(tables)}): "
            + (
                reason
                or "an earlier version's store put back beside a newer audit file? Keep the"
                " audit file that belongs with the store, move the other aside, and start again"
            )
            + ' (docs/operations.md, "Backup and restore")'
        )


class UnreadableAuditFile(AuditFileRefused):
    def __init__(self, target: str, cause: Exception) -> None:
        super().__init__(
            f"the audit file {target} cannot be read ({cause}): restore it from a backup"
            ' (docs/operations.md, "Backup and restore")'
        )
