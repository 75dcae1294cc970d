"""A mark that every hub process on one machine reads before trusting the application credentials it
remembers: the SQLite store's revocation signal.

Every authenticated request must see a disabled application's tokens refused at once, in every
process. Reading the application's epoch from SQLite costs 30-45 µs a request through the store
(a profile of `bench exchange` put it at the whole of the exchange's regression); reading this mark
costs one `pread` of a few bytes (~1 µs). A process keeps the epochs it read while the mark is
unchanged; whoever changes an application or institution bumps the mark after its transaction
commits, before its call returns, so the next request in any process reads the store again.

SQLite stores live on one machine, so a file beside the database reaches every process. (On
PostgreSQL the epoch is read per request, the concurrent reads of a process sharing a round trip.)
"""

from __future__ import annotations

import fcntl
import os


class CredentialMark:
    """A counter in a small file beside the store, bumped under an exclusive lock."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def read(self) -> bytes:
        return os.pread(self._fd, 20, 0)

    def bump(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            current = os.pread(self._fd, 20, 0)
            following = (int(current) if current.strip() else 0) + 1
            os.pwrite(self._fd, b"%020d" % following, 0)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)
