"""The whole store in memory (Store), and the replay guard.

Holds the in-memory registry, directory, audit log (with its Merkle tree, the transparency log),
replay guard, mutation store and declarations store: every repository of the Store port.
"""

from __future__ import annotations

import time

from crossroads.services.ports import ReplayGuard, Store

from .audit import MemoryAuditLog
from .declarations import MemoryDeclarations
from .directory import MemoryDirectory
from .mutations import MemoryMutationStore
from .registry import MemoryRegistry
from .transparency import MemoryTransparencyLog


class MemoryReplayGuard(ReplayGuard):
    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    async def first_use(self, jti: str, expires_at: int) -> bool:
        now = int(time.time())
        for old in [j for j, expiry in self.seen.items() if expiry < now]:
            del self.seen[old]  # an assertion past its exp is refused anyway
        if jti in self.seen:
            return False
        self.seen[jti] = expires_at
        return True


class MemoryStore(Store):
    def __init__(self) -> None:
        self.registry = MemoryRegistry()
        self.directory = MemoryDirectory()
        self.audit = MemoryAuditLog()
        self.replay = MemoryReplayGuard()
        self.transparency = MemoryTransparencyLog(self.audit)
        self.mutations = MemoryMutationStore()
        self.declarations = MemoryDeclarations()
        self.closed = False

    async def ping(self) -> None:
        if self.closed:
            raise ConnectionError("the store is closed")

    async def close(self) -> None:
        self.closed = True
