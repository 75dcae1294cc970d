"""Bells between hub processes: a message committed to a pull mailbox by one process wakes the
reader of that mailbox in another (services/arrivals.py rings the bells of its own process)."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable

Mailbox = tuple[str, str]  # (institution, application): a pull mailbox


class ArrivalBells(abc.ABC):
    """A hint, never a message: a bell lost (a process gone, a connection down, a full buffer)
    costs the reader the wait for its next poll, nothing else; the mailbox in the store stays the
    only source of what arrived."""

    @abc.abstractmethod
    def ring(self, applications: list[Mailbox]) -> None:
        """Messages were committed for these mailboxes in this process: tell the others. Called
        after the commit; never blocks on another process."""

    @abc.abstractmethod
    async def listen(self, heard: Callable[[Iterable[Mailbox]], None]) -> None:
        """Call `heard` with the mailboxes other processes rang for, from now until `quiet`."""

    @abc.abstractmethod
    async def quiet(self) -> None:
        """Stop listening (idempotent)."""
