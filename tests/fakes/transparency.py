"""The audit log's Merkle tree in memory (TransparencyLog), over the in-memory audit log.

As in adapters/sql/transparency.py, the tree is built on the audit log's own entries: an entry
gets its leaf index from `sequence` (services/transparency.Sequencer), and a subject's entries are
found by the keyed hash the record carries (`subject_hash`), newest first. Pruning the live log
is not faked (`prune` raises NotImplementedError; the archive is tested over SQLite).
"""

from __future__ import annotations

from crossroads.domain.archive import Segment
from crossroads.domain.audit import AuditRecord
from crossroads.domain.merkle import Node, TreeHead
from crossroads.services.ports import TransparencyLog
from crossroads.verifier import leaf_hash

from .audit import MemoryAuditLog


class MemoryTransparencyLog(TransparencyLog):
    def __init__(self, audit: MemoryAuditLog) -> None:
        self._audit = audit
        self.leaf_of: dict[int, int] = {}  # seq -> leaf index
        self.node_hashes: dict[Node, bytes] = {}
        self.tree_heads: dict[int, TreeHead] = {}
        self.cosigned: dict[int, dict[str, str]] = {}
        self.archive: list[Segment] = []

    def _record(self, seq: int) -> bytes:
        return self._audit.entries[seq - 1]

    async def size(self) -> int:
        return len(self.leaf_of)  # leaf indexes are given densely from 0

    async def unsequenced(self, limit: int) -> list[tuple[int, bytes]]:
        seqs = [s for s in range(1, len(self._audit.entries) + 1) if s not in self.leaf_of]
        return [(s, leaf_hash(self._record(s))) for s in seqs[:limit]]

    async def sequence(
        self, first_index: int, seqs: list[int], nodes: list[tuple[int, int, bytes]]
    ) -> bool:
        if await self.size() != first_index:
            return False  # another sequencer went first
        if any(s in self.leaf_of or not 1 <= s <= len(self._audit.entries) for s in seqs):
            raise RuntimeError(f"sequencing from leaf {first_index}: an entry is taken or gone")
        for offset, seq in enumerate(seqs):
            self.leaf_of[seq] = first_index + offset
        for level, position, digest in nodes:
            self.node_hashes[(level, position)] = digest
        return True

    async def nodes(self, wanted: list[Node]) -> dict[Node, bytes]:
        return {node: self.node_hashes[node] for node in set(wanted) if node in self.node_hashes}

    async def entry(self, leaf_index: int) -> bytes | None:
        seq = next((s for s, i in self.leaf_of.items() if i == leaf_index), None)
        return None if seq is None else self._record(seq)

    async def entries(self, start: int, limit: int) -> list[tuple[int, bytes]]:
        placed = sorted((i, s) for s, i in self.leaf_of.items() if i >= start)
        return [(i, self._record(s)) for i, s in placed[:limit]]

    async def about_subject(
        self, subject_key: bytes, before_seq: int | None, limit: int
    ) -> list[tuple[int, int | None, bytes]]:
        wanted = subject_key.hex()
        found: list[tuple[int, int | None, bytes]] = []
        last = len(self._audit.entries) if before_seq is None else before_seq - 1
        for seq in range(min(last, len(self._audit.entries)), 0, -1):
            if len(found) >= limit:
                break
            raw = self._record(seq)
            if AuditRecord.from_canonical(raw).subject_hash == wanted:
                found.append((seq, self.leaf_of.get(seq), raw))
        return found

    async def level_nodes(self, level: int, start: int, end: int) -> dict[int, bytes]:
        return {
            position: digest
            for (at, position), digest in self.node_hashes.items()
            if at == level and start <= position < end
        }

    async def heads(self) -> list[TreeHead]:
        return [self.tree_heads[size] for size in sorted(self.tree_heads)]

    async def put_head(self, head: TreeHead) -> None:
        self.tree_heads.setdefault(head.tree_size, head)  # a head once signed stays

    async def latest_head(self) -> TreeHead | None:
        return self.tree_heads[max(self.tree_heads)] if self.tree_heads else None

    async def head(self, tree_size: int) -> TreeHead | None:
        return self.tree_heads.get(tree_size)

    async def put_cosignature(self, tree_size: int, witness: str, cosignature: str) -> None:
        self.cosigned.setdefault(tree_size, {}).setdefault(witness, cosignature)

    async def cosignatures(self, tree_size: int) -> dict[str, str]:
        return dict(sorted(self.cosigned.get(tree_size, {}).items()))

    async def segments(self) -> list[Segment]:
        return sorted(self.archive, key=lambda s: s.start)

    async def add_segment(self, segment: Segment) -> None:
        self.archive.append(segment)

    async def retained_from(self) -> int:
        return 0  # nothing is pruned here

    async def prune(self, up_to: int, keep: list[Node], at_ms: int) -> int:
        raise NotImplementedError(
            "MemoryTransparencyLog.prune: pruning is not faked; test the archive over SQLite."
        )
