"""A SQLite hub's audit log in a file of its own (adapters/sql/audit_file.py): a store of an
earlier version has its log moved whole, once, whatever stops the move; a store without its
audit file does not start; and the store's writers and the audit writers each have a lock."""

from __future__ import annotations

import asyncio
import fcntl
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crossroads.adapters.keys import HubKeys
from crossroads.adapters.sql import audit_file
from crossroads.adapters.sql.audit import SQLiteAuditLog
from crossroads.adapters.sql.audit_file import (
    AUDIT_TABLES,
    AuditFilesDiffer,
    MissingAuditFile,
    UnreadableAuditFile,
    audit_path,
    move_audit_tables,
)
from crossroads.adapters.sql.database import SQLiteDatabase
from crossroads.adapters.sql.migrate import migrate
from crossroads.adapters.sql.store import open_store
from crossroads.adapters.sql.transparency import SqlTransparencyLog
from crossroads.adapters.sql.write_turn import turn_path
from crossroads.domain.audit import AuditRecord
from crossroads.entrypoints.cli import app
from crossroads.services.clock import FixedClock
from crossroads.services.log_auditor import LogAuditor
from crossroads.services.transparency import Sequencer

pytestmark = pytest.mark.anyio
ENTRIES = 20


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "hub.sqlite3")


@pytest.fixture
def keys(tmp_path: Path) -> HubKeys:
    return HubKeys.load_or_create(tmp_path / "keys")


def record(i: int) -> AuditRecord:
    return AuditRecord(
        kind="exchange", at_ms=i, outcome="ok", request_id=f"r{i}", subject_hash=f"{i:032x}"
    )


async def earlier_version(path: str, keys: HubKeys) -> dict[str, list[tuple]]:
    """A store as the versions before the move left it: the audit tables in the store's own file,
    with entries, their tree, signed heads, a witness's cosignature and an archive segment.
    Returns every audit table's rows."""
    db = SQLiteDatabase(path)
    await migrate(db)
    log = SQLiteAuditLog(db)
    await log.append_many([record(i) for i in range(ENTRIES)])
    await log.close()
    sequencer = Sequencer(
        SqlTransparencyLog(db),
        keys,
        FixedClock(1_700_000_000),
        head_every_entries=8,
        head_every_seconds=3600,
        batch=8,
    )
    await sequencer.sign_now()
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO tree_head_cosignatures (tree_size, witness, cosignature)"
            " VALUES (?, 'w', 'sig')",
            (ENTRIES,),
        )
        await tx.execute(
            "INSERT INTO audit_segments (start_index, end_index, file_name, sha256,"
            " exported_at_ms) VALUES (0, 8, 'audit-0.jsonl.gz', 'ab', 1)"
        )
    rows = {t: await db.fetchall(f"SELECT * FROM {t} ORDER BY 1, 2") for t in AUDIT_TABLES}
    await db.close()
    assert not on_disk(audit_path(path))
    return rows


def without_its_audit_file(path: str) -> None:
    """A store made by this version, then its audit file lost."""

    async def made() -> None:
        store = await open_store(f"sqlite:///{path}")
        await store.close()

    asyncio.run(made())
    remove(audit_path(path))


def remove(file: str) -> None:
    """A SQLite file and its journal, gone."""
    for suffix in ("", "-wal", "-shm"):
        Path(file + suffix).unlink(missing_ok=True)


def on_disk(file: str) -> bool:
    return Path(file).exists()


def tables_of(file: str) -> set[str]:
    with sqlite3.connect(file) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def indexes_of(file: str) -> set[str]:
    with sqlite3.connect(file) as conn:
        return {
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            )
        }


async def rows_in(store, table: str) -> list[tuple]:
    return await store.audit_db.fetchall(f"SELECT * FROM {table} ORDER BY 1, 2")


def test_the_audit_file_lies_beside_the_store() -> None:
    assert audit_path("/data/crossroads.sqlite3") == "/data/crossroads.audit.sqlite3"
    assert audit_path("/data/hub.db") == "/data/hub.db.audit.sqlite3"


async def test_a_store_of_an_earlier_version_has_its_log_moved_whole(path, keys) -> None:
    before = await earlier_version(path, keys)
    store = await open_store(f"sqlite:///{path}")
    try:
        assert not tables_of(path) & set(AUDIT_TABLES)
        assert set(AUDIT_TABLES) <= tables_of(audit_path(path))
        for table in AUDIT_TABLES:
            assert await rows_in(store, table) == before[table], table
        # Its indexes too: the subject's entries, the leaf index, the waiting entries.
        assert {"audit_log_leaf", "audit_log_subject_bucket", "audit_log_unsequenced"} <= (
            indexes_of(audit_path(path))
        )
        assert (await LogAuditor(store.transparency, keys.jwks).verify()).ok
        # The log goes on where it stood: the next entry is the tree's next leaf.
        await store.audit.append(record(ENTRIES))
        assert await store.transparency.size() == ENTRIES + 1
        found = await store.transparency.about_subject(bytes.fromhex(f"{3:032x}"), None, 10)
        assert [seq for seq, _, _ in found] == [4]
    finally:
        await store.close()
    # A later start finds nothing to move.
    assert move_audit_tables(path) is False


async def test_a_move_stopped_between_its_two_commits_is_made_again_from_the_store(
    path, keys, monkeypatch
) -> None:
    before = await earlier_version(path, keys)

    def stopped(*_args) -> None:  # as a crash after the audit file's commit
        raise RuntimeError("the process stopped here")

    monkeypatch.setattr(audit_file, "_drop_from_store", stopped)
    with pytest.raises(RuntimeError, match="stopped here"):
        move_audit_tables(path)
    assert set(AUDIT_TABLES) <= tables_of(path) & tables_of(audit_path(path))  # both hold it
    monkeypatch.undo()
    store = await open_store(f"sqlite:///{path}")
    try:
        assert not tables_of(path) & set(AUDIT_TABLES)
        for table in AUDIT_TABLES:  # copied again, not twice
            assert await rows_in(store, table) == before[table], table
    finally:
        await store.close()


async def test_an_earlier_store_put_back_beside_a_newer_audit_file_overwrites_nothing(
    tmp_path, keys
) -> None:
    """An operator restores only the store's file of a backup taken before the move, beside the
    audit file the hub has written since: neither log is written over, and the hub says why."""
    old = str(tmp_path / "old.sqlite3")
    await earlier_version(old, keys)
    path = str(tmp_path / "hub.sqlite3")
    shutil.copy(old, path)
    store = await open_store(f"sqlite:///{path}")
    await store.audit.append(record(ENTRIES))  # written since: only in the audit file
    await store.close()
    shutil.copy(old, path)  # the old store put back
    with sqlite3.connect(audit_path(path)) as conn:
        [kept] = conn.execute("SELECT COUNT(*) FROM audit_log").fetchone()
    assert kept == ENTRIES + 1
    with pytest.raises(AuditFilesDiffer, match=r"hold an audit log, and they differ \(audit_log"):
        await open_store(f"sqlite:///{path}")
    with sqlite3.connect(audit_path(path)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM audit_log").fetchone() == (kept,)
    assert "audit_log" in tables_of(path)


OLD_PROCESS_WRITES = {
    "an append": "INSERT INTO audit_log VALUES (999, 0, NULL, x'7b7d', NULL)",
    "a leaf index changed": "UPDATE audit_log SET leaf_index = NULL WHERE seq = 20",
    "a prune": "DELETE FROM audit_log WHERE seq <= 4",
    "a segment marked pruned": "UPDATE audit_segments SET pruned_at_ms = 7",
}


@pytest.mark.parametrize("write", OLD_PROCESS_WRITES)
async def test_what_an_old_process_writes_between_the_two_commits_is_moved_too(
    path, keys, monkeypatch, write
) -> None:
    """Whatever it changes (an old-version process still running: the upgrade says to stop it
    first), the copy is made again from the store's tables as they are, never dropped with them
    nor refused as another hub's log."""
    await earlier_version(path, keys)
    real = audit_file._drop_from_store

    def old_process_writes(conn, copied):  # between the audit file's commit and the drop
        monkeypatch.setattr(audit_file, "_drop_from_store", real)
        with sqlite3.connect(path) as other:
            other.execute(OLD_PROCESS_WRITES[write])
        return real(conn, copied)

    monkeypatch.setattr(audit_file, "_drop_from_store", old_process_writes)
    with sqlite3.connect(path) as conn:
        conn.execute(OLD_PROCESS_WRITES[write])
        expected = {
            t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in AUDIT_TABLES
        }
        conn.rollback()
    assert move_audit_tables(path) is True
    with sqlite3.connect(audit_path(path)) as conn:
        for table in AUDIT_TABLES:
            assert (
                conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall() == expected[table]
            )
        assert "audit_move_copy" not in tables_of(audit_path(path))  # the copy is the log now
    assert "audit_log" not in tables_of(path)


async def test_a_new_store_beside_a_kept_audit_file_keeps_the_log(path, keys) -> None:
    """The store's file lost and made anew (its migrations make empty audit tables): the audit
    file's log is kept, not replaced by the empty tables."""
    store = await open_store(f"sqlite:///{path}")
    await store.audit.append_many([record(i) for i in range(3)])
    await store.close()
    remove(path)
    store = await open_store(f"sqlite:///{path}")
    try:
        assert await store.audit.count() == 3
    finally:
        await store.close()


async def test_a_hub_of_an_earlier_version_refuses_a_moved_store(path, monkeypatch) -> None:
    """It would look for the audit tables in the store's file: the move's migration number
    tells it to refuse the store, as for any newer schema."""
    store = await open_store(f"sqlite:///{path}")
    await store.close()
    from crossroads.adapters.sql import migrate as migrations

    every = migrations.available("sqlite")
    assert (38, "0038_audit_in_own_file.sqlite.sql") in [(n, name) for n, name, _ in every]
    earlier = [m for m in every if m[0] < 38]
    monkeypatch.setattr(migrations, "available", lambda dialect: earlier)
    db = SQLiteDatabase(path)
    try:
        with pytest.raises(RuntimeError, match="newer than this hub knows"):
            await migrations.migrate(db)
    finally:
        await db.close()


async def test_an_unreadable_audit_file_is_named(path) -> None:
    store = await open_store(f"sqlite:///{path}")
    await store.close()
    await asyncio.to_thread(Path(audit_path(path)).write_bytes, os.urandom(8192))
    with pytest.raises(UnreadableAuditFile, match=r"hub\.audit\.sqlite3 cannot be read"):
        await open_store(f"sqlite:///{path}")


async def test_processes_starting_together_move_it_once(path, keys) -> None:
    before = await earlier_version(path, keys)
    results: list[bool] = []
    start = threading.Barrier(3)

    def starting() -> None:
        start.wait()
        results.append(move_audit_tables(path))

    threads = [threading.Thread(target=starting) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, True]
    with sqlite3.connect(audit_path(path)) as conn:
        assert conn.execute("SELECT * FROM audit_log ORDER BY 1, 2").fetchall() == [
            tuple(row) for row in before["audit_log"]
        ]


async def test_a_store_without_its_audit_file_does_not_start(path) -> None:
    store = await open_store(f"sqlite:///{path}")
    await store.audit.append(record(0))
    await store.close()
    remove(audit_path(path))
    with pytest.raises(MissingAuditFile, match=r"hub\.audit\.sqlite3.*Backup and restore"):
        await open_store(f"sqlite:///{path}")
    assert not on_disk(audit_path(path))  # the check leaves no empty log behind


def test_a_command_on_a_store_without_its_audit_file_says_so_in_one_line(path, tmp_path) -> None:
    without_its_audit_file(path)
    ran = subprocess.run(
        [sys.executable, "-m", "crossroads.entrypoints.cli", "registry", "list"],
        env={
            **os.environ,
            "CROSSROADS_DATA_DIR": str(tmp_path),
            "CROSSROADS_STORE_URL": f"sqlite:///{path}",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 2, ran.stderr
    assert "Traceback" not in ran.stderr
    assert f"kept in {audit_path(path)}, which is missing" in ran.stderr.replace("\n", "")


def test_migrate_moves_the_log_of_an_earlier_version(path, keys, tmp_path) -> None:
    asyncio.run(earlier_version(path, keys))
    migrated = CliRunner().invoke(
        app,
        ["migrate"],
        env={"CROSSROADS_DATA_DIR": str(tmp_path), "CROSSROADS_STORE_URL": f"sqlite:///{path}"},
    )
    assert migrated.exit_code == 0, migrated.output
    assert "the audit log moved to its own file" in migrated.output
    assert "audit_log" in tables_of(audit_path(path)) and "audit_log" not in tables_of(path)


def test_without_its_audit_file_migrate_and_backup_refuse_and_leave_nothing(path, tmp_path) -> None:
    without_its_audit_file(path)
    env = {"CROSSROADS_DATA_DIR": str(tmp_path), "CROSSROADS_STORE_URL": f"sqlite:///{path}"}
    migrated = CliRunner().invoke(app, ["migrate"], env=env)
    assert isinstance(migrated.exception, MissingAuditFile)
    assert not on_disk(audit_path(path))  # no empty log left for the next start to take
    copy = tmp_path / "copy"
    backed_up = CliRunner().invoke(app, ["backup", str(copy)], env=env)
    assert backed_up.exit_code == 2
    assert "no audit log in" in backed_up.output and "nothing copied" in backed_up.output
    assert not copy.exists()


def hold(file: str) -> tuple[int, sqlite3.Connection]:
    """Hold `file`'s writers' turn and SQLite's write lock, as another hub process in its
    transaction does."""
    turn = os.open(turn_path(file), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(turn, fcntl.LOCK_EX)
    conn = sqlite3.connect(file, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    return turn, conn


def let_go(held: tuple[int, sqlite3.Connection]) -> None:
    turn, conn = held
    conn.execute("ROLLBACK")
    conn.close()
    os.close(turn)


async def test_the_store_and_its_audit_log_each_have_a_write_lock(path) -> None:
    """What the move is for: a store transaction does not wait for an audit commit, nor an
    audit append for a store transaction."""
    store = await open_store(f"sqlite:///{path}")
    try:
        held = hold(audit_path(path))
        try:
            started = time.monotonic()
            async with store.db.transaction() as tx:
                await tx.execute("INSERT INTO client_assertions (jti, expires_at) VALUES ('j', 1)")
            assert time.monotonic() - started < 1
            appending = asyncio.ensure_future(store.audit.append(record(0)))
            await asyncio.sleep(0.3)
            assert not appending.done()  # the audit file's writer waits for its own lock
        finally:
            let_go(held)
        assert await asyncio.wait_for(appending, 10) == 1
        held = hold(path)
        try:
            await asyncio.wait_for(store.audit.append(record(1)), 1)
        finally:
            let_go(held)
    finally:
        await store.close()


async def test_a_migrated_store_opens_while_another_process_writes(path) -> None:
    """Its schema current, opening the store reads the version and the audit file's place
    without waiting for either file's lock (a migration that waits may wait ten minutes)."""
    store = await open_store(f"sqlite:///{path}")
    await store.close()
    held = [hold(path), hold(audit_path(path))]
    try:
        store = await asyncio.wait_for(open_store(f"sqlite:///{path}"), 5)
        await store.close()
    finally:
        for each in held:
            let_go(each)
