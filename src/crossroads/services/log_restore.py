"""After a restore from a backup: compare the log with what its witnesses countersigned and with
its own audit archive, recover lost entries from the archive, and declare what cannot be
recovered.

The archive's newest segment ends with a head the hub signed: it is compared with the log as a
witness's latest countersigned head is (`archive_head`), so that a hub with no witness (a small
hub, the demo) still finds the entries a restore lost and appends them again identically.

`crossroads audit restore-check` and `crossroads audit restore-recover` run these with the hub
stopped (docs/operations.md, "Backup and restore"): an entry appended by a running hub before
the recovery would take the index of a lost one, and the archive could no longer reproduce the
witnessed root.
"""

from __future__ import annotations

import base64
import gzip
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..domain.audit import AuditRecord
from ..domain.merkle import TreeHead, fold, perfect_parts
from ..verifier import ProofError, verify_segment
from .clock import Clock
from .ports import AuditLog, TransparencyLog
from .transparency import AuditProofs, Sequencer
from .witness_restore import declaration_record


@dataclass(frozen=True)
class WitnessState:
    """How the log stands against one witness's latest countersigned head."""

    witness: str
    witnessed_size: int  # 0: the witness countersigned nothing yet
    state: str  # "in_step", "behind" (entries lost), "diverged" (another history: never normal)


class LogRestore:
    def __init__(
        self,
        log_store: TransparencyLog,
        audit: AuditLog,
        sequencer: Sequencer,
        proofs: AuditProofs,
        jwks: Callable[[], dict[str, Any]],
        clock: Clock,
    ) -> None:
        self._log = log_store
        self._audit = audit
        self._sequencer = sequencer
        self._proofs = proofs
        self._jwks = jwks
        self._clock = clock

    async def root_at(self, size: int) -> bytes | None:
        """The root of the log's first `size` entries, when it holds that many."""
        if size > await self._log.size():
            return None
        parts = perfect_parts(0, size)
        stored = await self._log.nodes(parts)
        return fold([stored[p] for p in parts])

    async def compare(self, witness: str, latest: dict[str, Any] | None) -> WitnessState:
        """`latest`: the witness's latest countersigned head, None when it has none."""
        if latest is None:
            return WitnessState(witness, 0, "in_step")
        size = int(latest["tree_size"])
        ours = await self.root_at(size)
        if ours is None:
            return WitnessState(witness, size, "behind")
        same = ours == base64.b64decode(latest["root_hash"])
        return WitnessState(witness, size, "in_step" if same else "diverged")

    def archive_head(self, segment_files: list[Path]) -> dict[str, Any] | None:
        """The end head of the newest of `segment_files` (verified with the hub's keys, as
        `recover` verifies each), None when there is none. Raises RuntimeError when it does
        not verify."""
        if not segment_files:
            return None
        newest = sorted(segment_files)[-1]
        try:
            with gzip.open(newest, "rb") as lines:
                head: dict[str, Any] = verify_segment(lines, self._jwks())["end_head"]
        except (ProofError, OSError) as exc:
            raise RuntimeError(f"{newest}: NOT verified: {exc}") from None
        return head

    async def recover(self, segment_files: list[Path], up_to: int) -> int:
        """Append again, identically, the entries from the log's size up to `up_to` that the
        segment files hold (each verified with the hub's keys first), with their end heads;
        return how many. Raises RuntimeError if the result does not reproduce a segment's root.

        Entries the backup holds but had not sequenced yet (appended just before it was taken)
        are sequenced first: the hub that went on sequenced them at the indexes the archive
        holds them at, before anything recovered here."""
        while await self._sequencer.step():
            pass
        recovered = 0
        for path in sorted(segment_files):
            size = await self._log.size()
            if size >= up_to:
                break
            with gzip.open(path, "rb") as lines:
                try:
                    header = verify_segment(lines, self._jwks())
                except ProofError as exc:
                    raise RuntimeError(f"{path}: NOT verified: {exc}") from None
            start, end = int(header["start"]), int(header["end"])
            if not start <= size < end:
                continue
            with gzip.open(path, "rb") as lines:
                entries = [line.rstrip(b"\n") for line in lines][1:]
            wanted = entries[size - start : min(end, up_to) - start]
            records = [AuditRecord.from_canonical(raw) for raw in wanted]
            if [r.canonical() for r in records] != wanted:
                raise RuntimeError(f"{path}: an entry is not in canonical form; not appended")
            await self._audit.append_many(records)
            while await self._sequencer.step():
                pass
            recovered += len(records)
            if await self._log.size() == end:
                await self._check_and_keep(header["end_head"], path)
        return recovered

    async def _check_and_keep(self, head: dict[str, Any], path: Path) -> None:
        root = base64.b64decode(head["root_hash"])
        if await self.root_at(int(head["tree_size"])) != root:
            raise RuntimeError(
                f"the entries appended again from {path} do not reproduce its end head's root: "
                "the log held other entries at those indexes"
            )
        if await self._log.head(int(head["tree_size"])) is None:
            await self._log.put_head(
                TreeHead(int(head["tree_size"]), root, int(head["timestamp"]), head["signature"])
            )

    async def declare(
        self, witnessed: dict[str, Any], reason: str
    ) -> tuple[TreeHead, bytes, list[bytes]]:
        """Append the restore declaration (services/witness_restore.py) for the entries lost
        up to the head `witnessed`, sign the head that ends with it; return (head, the
        declaration's canonical entry, its inclusion proof in that head)."""
        while await self._sequencer.step():
            pass
        size = await self._log.size()
        record = declaration_record(self._clock.now_ms(), size, witnessed, reason)
        await self._audit.append(record)
        while await self._sequencer.step():
            pass
        head = await self._sequencer.sign_now()
        entry = await self._log.entry(size)
        if head.tree_size != size + 1 or entry != record.canonical():
            raise RuntimeError(
                "another entry was appended with the declaration: stop the hub and run again"
            )
        _, path = await self._proofs.inclusion(size, head.tree_size)
        return head, entry, path
