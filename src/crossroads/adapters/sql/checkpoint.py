"""Copying SQLite's write-ahead log back into the database, off the writers' path.

By default SQLite checkpoints inside the COMMIT that crosses 1,000 pages of log: the committing
writer then copies pages scattered over the whole file (the keyed-hash index is random) and
fsyncs the database while holding the write lock, and at millions of entries that took most of
the audit writer's time. Our connections turn that off (`sqlite_connect`); this thread, with its
own connection, checkpoints every `interval` seconds instead. A PASSIVE checkpoint never waits
for a writer or a reader, so appends go on while it copies; durability is unchanged, since a
commit is durable once its log frames are synced. When the log grows long it is started over
(see _run), which keeps the file, and the index SQLite keeps of it, small.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

from .connect import sqlite_connect

log = logging.getLogger("crossroads.store")


class WalCheckpointer:
    def __init__(self, path: str, interval: float = 1.0, restart_frames: int = 16384) -> None:
        """`interval`: seconds between two checkpoints. `restart_frames`: the log's length (in
        pages, 64 MB by default) past which it is started over.

        A page written again and again between two checkpoints (an index's last pages, an outbox
        row inserted then marked delivered) is copied once by each: every second, not every
        0.2 s, halved the checkpointers' share of the hub's processor under `bench mutations`
        (docs/benchmarks.md, "A session of 2026-12-07, late evening")."""
        self._path = path
        self._interval = interval
        self._restart_frames = restart_frames
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpointer", daemon=True)
        self.restart_wanted = threading.Event()
        self.failures = 0

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        conn = sqlite_connect(
            self._path, busy_timeout_ms=0
        )  # never waits: a busy checkpoint is tried again
        try:
            while not self._stop.wait(self._interval):
                try:
                    _, logged, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    if logged > self._restart_frames and self._restart(conn):
                        # Under steady appends a passive checkpoint never reaches the log's end, so
                        # SQLite never starts the log over and the file grows without bound. This
                        # thread cannot get between the writer's back-to-back transactions (it
                        # starved for seconds), so the writer is asked to do it between two.
                        self.restart_wanted.set()
                except Exception:
                    # Nothing is lost when a checkpoint fails (the log still holds every commit);
                    # the log only grows until the next one succeeds. Say so, and try again.
                    self.failures += 1
                    log.exception("SQLite checkpoint of %s failed; retrying", self._path)
        finally:
            conn.close()

    def restart_if_wanted(self, conn: sqlite3.Connection) -> None:
        """Called by a writer between its transactions: copy what is left of a long log and start
        it over (short, since the passive checkpoints copied the rest)."""
        if not self.restart_wanted.is_set():
            return
        try:
            if not self._restart(conn):
                self.restart_wanted.clear()
        except (
            Exception
        ):  # never let a checkpoint stop the writer: nothing is lost, the log only grows
            self.failures += 1
            log.exception("SQLite checkpoint of %s by a writer failed; retrying", self._path)

    @staticmethod
    def _restart(conn: sqlite3.Connection) -> bool:
        """A RESTART checkpoint; True when it was busy (a writer or an old reader) and did not
        finish.

        RESTART, not TRUNCATE: the next commits write the log from its start again over the
        file's blocks (the connections' `journal_size_limit` cuts a file grown past 128 MB back to
        it, a burst's; the 64 MB at which the log is started over stays under it). A log cut to
        nothing grew again by every commit, and each commit's fdatasync then wrote the file's new
        size and blocks as well as its pages: under `bench exchange` the audit writers spent a
        quarter less system time with RESTART (docs/benchmarks.md, "The audit log's commits")."""
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
        return bool(busy)

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
