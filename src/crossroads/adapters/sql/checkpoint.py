"""Copying SQLite's write-ahead log back into the database, off the writers' path.

By default SQLite checkpoints inside the COMMIT that crosses 1,000 pages of log: the committing
writer then copies pages scattered over the whole file (the keyed-hash index is random) and
fsyncs the database while holding the write lock, and at millions of entries that took most of
the audit writer's time. Our connections turn that off (`sqlite_connect`); this thread, with its
own connection, checkpoints every `interval` seconds instead. A PASSIVE checkpoint never waits
for a writer or a reader, so appends go on while it copies; durability is unchanged, since a
commit is durable once its log frames are synced.
"""

from __future__ import annotations

import logging
import threading

from .connect import sqlite_connect

log = logging.getLogger("crossroads.store")


class WalCheckpointer:
    def __init__(self, path: str, interval: float = 0.2) -> None:
        self._path = path
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpointer", daemon=True)
        self.failures = 0

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        conn = sqlite_connect(self._path)
        try:
            while not self._stop.wait(self._interval):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except Exception:
                    # Nothing is lost when a checkpoint fails (the log still holds every commit);
                    # the log only grows until the next one succeeds. Say so, and try again.
                    self.failures += 1
                    log.exception("SQLite checkpoint of %s failed; retrying", self._path)
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
