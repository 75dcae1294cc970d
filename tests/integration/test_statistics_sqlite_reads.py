"""The statistics extraction's reads of a SQLite store share the file safely with the store's
writers and its checkpointer (arrow_reads.py says why this once failed: a second copy of SQLite
in the process, whose closing dropped the other's locks).

The reads run in a child process: the fault this guards against killed the process with a bus
error, which must fail this test, not end the test run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pyarrow
import pytest

from crossroads.adapters.sql.arrow_reads import ArrowReads
from crossroads.adapters.sql.database import SQLiteDatabase

# Opens, reads and closes the extraction's reader again and again (harsher than the hub, which
# keeps one open) while a writer commits and a checkpointer starts the log over as often as it
# can: the conditions under which a reader that brought its own SQLite reset the shared-memory
# index. A failure in any thread is counted: the fault also showed as "database disk image is
# malformed" in a thread that went on.
_CHILD = textwrap.dedent(
    """
    import asyncio, sys, threading, time

    import pyarrow

    from crossroads.adapters.sql.arrow_reads import ArrowReads
    from crossroads.adapters.sql.connect import sqlite_connect
    from crossroads.adapters.sql.database import SQLiteDatabase

    path, seconds = sys.argv[1], float(sys.argv[2])
    schema = pyarrow.schema([("n", pyarrow.int64()), ("v", pyarrow.string())])


    async def main():
        db = SQLiteDatabase(path)
        setup = sqlite_connect(path)
        setup.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, v TEXT)")
        stop = threading.Event()
        errors = []

        def recorded(work):
            def run():
                try:
                    work()
                except BaseException as exc:
                    errors.append(repr(exc))
                    stop.set()
            return run

        def write():
            conn = sqlite_connect(path)
            while not stop.is_set():
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany("INSERT INTO t (v) VALUES (?)", [("x" * 50,)] * 100)
                conn.execute("COMMIT")
            conn.close()

        def start_log_over():
            conn = sqlite_connect(path, busy_timeout_ms=0)
            while not stop.is_set():
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                time.sleep(0.001)
            conn.close()

        threads = [
            threading.Thread(target=recorded(write)),
            threading.Thread(target=recorded(start_log_over)),
        ]
        for thread in threads:
            thread.start()
        reads, rows = 0, 0
        give_up = time.monotonic() + seconds
        try:
            while time.monotonic() < give_up:
                reader = ArrowReads(db)
                table = await reader.table(
                    "SELECT n, v FROM t WHERE n > ? ORDER BY n LIMIT ?", [rows - 50, 100], schema
                )
                reader.close()
                rows = max(rows, table.num_rows and table.column("n")[-1].as_py())
                reads += 1
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        check = setup.execute("PRAGMA integrity_check").fetchone()[0]
        setup.close()
        failures = db.checkpointer.failures
        await db.close()
        print(reads, rows, check.replace(" ", "_"), failures, len(errors))
        for error in errors:
            print(error, file=sys.stderr)


    asyncio.run(main())
    """
)


def test_reads_beside_writers_and_the_checkpointer_leave_the_store_whole(tmp_path):
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tmp_path / "store.sqlite3"), "3"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, (child.returncode, child.stderr[-2000:])
    reads, rows, check, checkpoint_failures, thread_errors = child.stdout.split()
    assert (check, checkpoint_failures, thread_errors) == ("ok", "0", "0"), child.stderr[-2000:]
    assert int(reads) > 100 and int(rows) > 0  # the reads ran, and saw the writer's rows


@pytest.mark.anyio
async def test_a_sqlite_file_reads_into_the_schemas_types(tmp_path):
    db = SQLiteDatabase(tmp_path / "store.sqlite3")
    try:
        async with db.transaction() as tx:
            await tx.execute("CREATE TABLE t (n INTEGER, v TEXT, b BLOB, f REAL)")
            await tx.execute("INSERT INTO t VALUES (1, NULL, x'00ff', 0.5), (2, 'é', NULL, NULL)")
        reader = ArrowReads(db)
        schema = pyarrow.schema(
            [
                ("number", pyarrow.int64()),
                ("text", pyarrow.string()),
                ("bytes", pyarrow.binary()),
                ("share", pyarrow.float64()),
            ]
        )
        table = await reader.table("SELECT n, v, b, f FROM t WHERE n >= ? ORDER BY n", [1], schema)
        assert table.schema == schema
        assert table.to_pylist() == [
            {"number": 1, "text": None, "bytes": b"\x00\xff", "share": 0.5},
            {"number": 2, "text": "é", "bytes": None, "share": None},
        ]
        empty = await reader.table("SELECT n, v, b, f FROM t WHERE n > ?", [9], schema)
        assert empty.schema == schema and empty.num_rows == 0
        reader.close()
    finally:
        await db.close()
