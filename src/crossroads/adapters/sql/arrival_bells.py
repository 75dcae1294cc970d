"""Bells between the hub processes that share a store (services/ports/arrivals.py): a message
committed to a pull mailbox in one process wakes that mailbox's reader in another at once, not at
its next poll.

- `NotifyBells` (PostgreSQL): the publication's own transaction sends a NOTIFY per pull mailbox it
  delivered to (`NOTIFY_PULLED`, in the pipeline that ends it: no round trip of its own), so
  PostgreSQL delivers it at the commit, to every listening process of every hub on the database,
  and never for a publication that rolled back. A listener reads the mailbox only once the
  publication is visible to it (PostgreSQL hands a notification over only after its transaction
  is visible in the listener's snapshot). Each process listens on one connection of its own.
- `SocketBells` (SQLite): a SQLite store lives on one machine, so the processes sharing it share
  a directory beside it: each listening process binds a Unix datagram socket there, and a
  publisher, after its commit, sends one datagram to each socket but its own (non-blocking: a
  full buffer is a reader already awake). A socket whose process is gone refuses the datagram and
  is removed. Datagrams to a local socket cost a system call each and no thread, no poll and no
  file written per publication; a counter file (as `credential_marks.FileMark`) would need every
  reader to poll it. Linux: the sockets are reached through `/proc/self/fd` so that the store's
  path may be longer than a socket address allows.

Both are hints: a lost one costs the reader its next poll (`CROSSROADS_RIGHTS_POLL_SECONDS`).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterable

import psycopg

from ...services.ports import ArrivalBells
from .pg_listener import listen_for_ever

CHANNEL = "crossroads_arrivals"
LISTENER_NAME = "crossroads-arrivals-listener"
# This process's mark on its own notifications: its own bells were rung in the process already.
PROCESS = secrets.token_hex(8)
# In a publication's transaction (PostgreSQL), its last statement before the COMMIT: one
# notification per pull mailbox among the subscriptions delivered to (identical ones in one
# transaction are folded into one by PostgreSQL).
NOTIFY_PULLED = (
    f"SELECT pg_notify('{CHANNEL}', ? || ' ' || pulled.mailbox) FROM"
    " (SELECT DISTINCT institution || ':' || application AS mailbox FROM subscriptions"
    " WHERE id = ANY(%b::text[]) AND mode = 'pull') pulled"
)
_RELIST_SECONDS = 1.0
_PER_DATAGRAM = 100  # mailboxes; a datagram stays far under the socket's size limit
_log = logging.getLogger(__name__)

Heard = Callable[[Iterable[tuple[str, str]]], None]


def _mailboxes(text: str) -> list[tuple[str, str]]:
    found = []
    for word in text.split():
        institution, _, application = word.partition(":")
        if application:
            found.append((institution, application))
    return found


class NotifyBells(ArrivalBells):
    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._task: asyncio.Task | None = None

    def ring(self, applications: list[tuple[str, str]]) -> None:
        """Nothing to do: the publication's transaction rang (`NOTIFY_PULLED`)."""

    async def listen(self, heard: Heard) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._listen(heard), name="arrival-bells"
            )

    async def _listen(self, heard: Heard) -> None:
        async def serve(conn: psycopg.AsyncConnection) -> None:
            # What was sent while not listening is lost: the reader's poll finds it.
            async for notification in conn.notifies():
                sender, _, mailbox = notification.payload.partition(" ")
                if sender != PROCESS:
                    heard(_mailboxes(mailbox))

        await listen_for_ever(
            self._dsn,
            application_name=LISTENER_NAME,
            channels=(CHANNEL,),
            serve=serve,
            what="arrivals",
            meanwhile="reading at each poll",
        )

    async def quiet(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def close(self) -> None:
        """At the store's close."""
        await self.quiet()


class SocketBells(ArrivalBells):
    def __init__(self, folder: str) -> None:
        """`folder`: beside the store, shared by the processes that open it."""
        self._folder = folder
        self._dir: int | None = None
        self._sender: socket.socket | None = None
        self._own: str | None = None
        self._socket: socket.socket | None = None
        self._listing: list[str] = []
        self._listed_at = -1  # the folder's time stamp at the last listing
        self._listed_when = 0.0

    def _directory(self) -> int:
        if self._dir is None:
            os.makedirs(self._folder, mode=0o700, exist_ok=True)
            self._dir = os.open(self._folder, os.O_RDONLY | os.O_DIRECTORY)
        return self._dir

    def _address(self, name: str) -> str:
        return f"/proc/self/fd/{self._directory()}/{name}"

    def _readers(self) -> list[str]:
        """The other listening processes' sockets. The folder is listed again when it changed
        (one `fstat` a publication instead of a listing: the listing cost more than the rest
        of the bell in a profile), or a second has passed: a directory's time stamp moves on the
        kernel's coarse clock, so a socket bound in the tick of the last listing may not move
        it; such a reader misses bells for that second at most and reads at its poll."""
        changed = os.fstat(self._directory()).st_mtime_ns
        now = time.monotonic()
        if changed != self._listed_at or now - self._listed_when > _RELIST_SECONDS:
            self._listing = [n for n in os.listdir(self._directory()) if n != self._own]
            self._listed_at, self._listed_when = changed, now
        return self._listing

    def ring(self, applications: list[tuple[str, str]]) -> None:
        if not applications:
            return
        words = sorted({f"{i}:{a}" for i, a in applications})
        datagrams = [
            " ".join(words[at : at + _PER_DATAGRAM]).encode()
            for at in range(0, len(words), _PER_DATAGRAM)
        ]
        try:
            if self._sender is None:
                self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._sender.setblocking(False)
            readers = self._readers()
        except OSError as exc:  # the publication is committed: it must not fail for a hint
            _log.warning("arrival bells not rung (%s); their readers read at their poll", exc)
            return
        for name in readers:
            for datagram in datagrams:
                try:
                    self._sender.sendto(datagram, self._address(name))
                except (ConnectionRefusedError, FileNotFoundError):
                    # Its process is gone (or went between the listing and the send).
                    with contextlib.suppress(OSError):
                        os.unlink(name, dir_fd=self._directory())
                    self._listed_at = -1
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOBUFS):
                        _log.warning("an arrival bell was not rung (%s); read at its poll", exc)
                    break  # a full buffer: that reader has bells waiting already

    async def listen(self, heard: Heard) -> None:
        if self._socket is not None:
            return
        name = secrets.token_hex(8)
        listening = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        listening.setblocking(False)
        try:
            listening.bind(self._address(name))
        except OSError as exc:
            listening.close()
            _log.warning("cannot listen for arrivals (%s); reading at each poll", exc)
            return
        self._own, self._socket = name, listening
        self._listed_at = -1

        def readable() -> None:
            while True:
                try:
                    datagram = listening.recv(65536)
                except BlockingIOError:
                    return
                heard(_mailboxes(datagram.decode(errors="replace")))

        asyncio.get_running_loop().add_reader(listening.fileno(), readable)

    async def quiet(self) -> None:
        if self._socket is not None:
            asyncio.get_running_loop().remove_reader(self._socket.fileno())
            self._socket.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._own, dir_fd=self._directory())
            self._socket, self._own = None, None

    async def close(self) -> None:
        """At the store's close."""
        await self.quiet()
        if self._sender is not None:
            self._sender.close()
            self._sender = None
        if self._dir is not None:
            os.close(self._dir)
            self._dir = None
