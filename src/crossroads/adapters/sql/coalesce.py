"""Concurrent lookups by key answered together: one query per round instead of one per caller.

A PostgreSQL read is a network round trip, and on a busy hub most of its cost is the trip and
the driver's work around it, not the lookup. While one round is on the wire, the keys asked for
in the meantime wait and go together in the next; a lone caller waits for nothing (its round
starts on the next turn of the event loop). A caller's round always starts after the caller
asked, so it sees every change committed before it asked, as a query of its own would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Coalescer(Generic[K, V]):
    def __init__(
        self,
        fetch: Callable[[list[K]], Awaitable[dict[K, V]]],
        missing: Callable[[], V],
        *,
        max_keys: int = 500,
    ) -> None:
        """`fetch(keys)` answers a round (keys absent from its answer get `missing()`)."""
        self._fetch = fetch
        self._missing = missing
        self._max_keys = max_keys
        self._waiting: dict[K, list[asyncio.Future]] = {}
        self._rounds: asyncio.Task | None = None

    async def get(self, key: K) -> V:
        future = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(future)
        if self._rounds is None or self._rounds.done():
            self._rounds = asyncio.create_task(self._run())
        return await future

    async def _run(self) -> None:
        while self._waiting:
            keys = list(self._waiting)[: self._max_keys]
            round_ = {key: self._waiting.pop(key) for key in keys}
            try:
                found = await self._fetch(keys)
            except BaseException as exc:  # every caller of the round gets the failure, none hangs
                for futures in round_.values():
                    for future in futures:
                        if not future.done():
                            future.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            for key, futures in round_.items():
                for future in futures:
                    if not future.done():
                        future.set_result(found[key] if key in found else self._missing())
