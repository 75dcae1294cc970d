"""The audit log made tamper-evident: the sequencer that grows the Merkle tree and signs tree heads,
and the proofs the hub serves from it."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..domain.errors import Refusal
from ..domain.merkle import (
    Frontier,
    TreeHead,
    consistency_ranges,
    fold,
    inclusion_ranges,
    perfect_parts,
)
from .clock import Clock, sleep_unless
from .ports import Lease, Signer, TransparencyLog

log = logging.getLogger("crossroads.audit")
TREE_HEAD_TYPE = "crossroads-tree-head"


class Sequencer:
    """Gives committed audit entries their leaf index, in one total order, and signs tree heads.

    Each step takes the entries that have none yet (oldest first), appends their leaf hashes to
    the tree's frontier, and stores indexes and completed nodes in one transaction; a tree head is
    signed once `head_every_entries` entries or `head_every_seconds` have passed since the last.
    One hub process at a time sequences, the one holding the store's lease (see `run`); should
    two ever step at once, the store lets one step win and the other reloads its frontier, so the
    order stays single. A step that fails raises; nothing is skipped.

    The stores' appends take their leaf indexes themselves (adapters/sql/audit.py): steps then
    find nothing to order and only sign heads, unless a store was opened to leave its entries to
    the sequencer (`sequence_on_append=False`) or an earlier version appended.
    """

    def __init__(
        self,
        log_store: TransparencyLog,
        signer: Signer,
        clock: Clock,
        *,
        head_every_entries: int,
        head_every_seconds: float,
        batch: int = 5000,
        held: str | None = None,
    ) -> None:
        """`held`: start with heads held (hold_heads), until the publisher lets them go."""
        self._log = log_store
        self._signer = signer
        self._clock = clock
        self._every_entries = head_every_entries
        self._every_ms = int(head_every_seconds * 1000)
        self._batch = batch
        self._frontier: Frontier | None = None
        self._last_head: TreeHead | None = None
        self._turn = (
            asyncio.Lock()
        )  # steps of one sequencer never interleave: they share the frontier
        self.leading = False  # holds the lease (see run); reported in /metrics
        self.held = held  # why heads are not signed now (hold_heads), or None

    def hold_heads(self, reason: str | None) -> None:
        """Stop signing tree heads for `reason` (a witness countersigned a head this log does
        not extend: services/head_publisher.py); None lets signing go on. Entries are still
        sequenced; `sign_now` (the CLI's restore procedure) still signs."""
        if reason is not None and self.held is None:
            log.critical("tree heads are not signed until the restore procedure is run: %s", reason)
        elif reason is None and self.held is not None:
            log.info("the log extends every witness's head: tree heads are signed")
        self.held = reason

    async def step(self) -> int:
        """Sequence one batch (and sign a head when due); return how many entries got an index."""
        async with self._turn:
            try:
                return await self._step()
            except BaseException:
                self._frontier = None  # it may hold leaves the store refused: reload it next time
                raise

    async def _step(self) -> int:
        if self._frontier is None:
            self._frontier = await self._load_frontier()
            self._last_head = await self._log.latest_head()
        entries = await self._log.unsequenced(self._batch)
        done = 0
        if not entries and await self._log.size() != self._frontier.size:
            # Another sequencer (a former leader, `audit verify`) grew the tree: never sign a
            # stale one.
            self._frontier = await self._load_frontier()
            self._last_head = await self._log.latest_head()
        if entries:
            first = self._frontier.size
            nodes = self._frontier.extend(leaf for _, leaf in entries)
            if await self._log.sequence(first, [seq for seq, _ in entries], nodes):
                done = len(entries)
            else:  # another sequencer went first: start again from what the store holds
                self._frontier = None
                return 0
        await self._sign_if_due()
        return done

    async def sign_now(self) -> TreeHead:
        """Sign a head for the tree as it is (the CLI and tests use it; steps sign when due)."""
        async with self._turn:
            self._frontier = await self._load_frontier()  # the tree as stored, whoever grew it
            return await self._sign()

    async def run(
        self,
        stop: asyncio.Event,
        lease: Lease | None = None,
        *,
        idle_seconds: float = 0.2,
        takeover_seconds: float = 2.0,
    ) -> None:
        """Step until `stop` is set; a failed step is logged and retried, never dropped.

        With a `lease`, only the process holding it steps; the others check every
        `takeover_seconds` and the first to find it free takes over (the holder died, or stopped).
        """
        try:
            while not stop.is_set():
                if lease is not None and not await self._lead(lease):
                    await sleep_unless(stop, takeover_seconds)
                    continue
                try:
                    busy = await self.step()
                except Exception:
                    log.exception("audit sequencer step failed; retrying")
                    busy = 0
                if busy < self._batch:
                    # Only a backlog (a full batch) is worth stepping again at once: under a steady
                    # flow, waiting lets the next step order a few hundred entries in one
                    # transaction rather than a handful in each of hundreds (on PostgreSQL each
                    # step is several round trips, which took the exchanges' share of the server).
                    await sleep_unless(stop, idle_seconds)
        finally:
            if lease is not None:
                await lease.release()
                self.leading = False

    async def _lead(self, lease: Lease) -> bool:
        try:
            holding = await lease.try_acquire()
        except Exception:
            log.exception("audit sequencer lease could not be checked")
            holding = False
        if holding != self.leading:
            self.leading = holding
            self._frontier = None  # whoever sequenced meanwhile changed the tree: reload it
            log.info(
                "this hub process %s the audit sequencer", "is now" if holding else "is no longer"
            )
        return holding

    async def _load_frontier(self) -> Frontier:
        size = await self._log.size()
        parts = perfect_parts(0, size)
        stored = await self._log.nodes(parts)
        missing = [p for p in parts if p not in stored]
        if missing:
            raise RuntimeError(
                f"the audit tree of {size} entries lacks its stored nodes {missing[:3]}; run "
                "crossroads audit verify"
            )
        return Frontier(size, [stored[p] for p in parts])

    async def _sign_if_due(self) -> None:
        assert self._frontier is not None
        size = self._frontier.size
        last = self._last_head
        if self.held is not None or (last is not None and last.tree_size == size):
            return
        grown = size - (last.tree_size if last else 0)
        waited = self._clock.now_ms() - (last.timestamp_ms if last else 0)
        if grown >= self._every_entries or waited >= self._every_ms:
            await self._sign()

    async def _sign(self) -> TreeHead:
        assert self._frontier is not None
        unsigned = TreeHead(self._frontier.size, self._frontier.root(), self._clock.now_ms(), "")
        head = TreeHead(
            unsigned.tree_size,
            unsigned.root_hash,
            unsigned.timestamp_ms,
            self._signer.sign_detached(unsigned.signed_bytes(), {"typ": TREE_HEAD_TYPE}),
        )
        await self._log.put_head(head)
        self._last_head = head
        return head


class AuditProofs:
    """What an auditor, a witness or a citizen asks of the log: tree heads and proofs."""

    def __init__(self, log_store: TransparencyLog) -> None:
        self._log = log_store

    async def latest_head(self) -> TreeHead:
        head = await self._log.latest_head()
        if head is None:
            raise Refusal("not_found", "the hub has not signed a tree head yet.")
        return head

    async def cosignatures(self, tree_size: int) -> list[dict[str, Any]]:
        """Witnesses' countersignatures of the head of `tree_size` (see
        services/head_publisher.py)."""
        return [
            {"witness": witness, "cosignature": signature}
            for witness, signature in (await self._log.cosignatures(tree_size)).items()
        ]

    async def inclusion(self, leaf_index: int, tree_size: int) -> tuple[bytes, list[bytes]]:
        """(leaf hash, audit path) of the entry at `leaf_index` in the tree of `tree_size`."""
        await self._check_size(tree_size, "tree_size")
        if not 0 <= leaf_index < tree_size:
            raise Refusal(
                "not_found",
                f"the tree of {tree_size} entries has no index {leaf_index}.",
                "leaf_index",
            )
        await self._check_retained(leaf_index)
        ranges = inclusion_ranges(leaf_index, tree_size)
        hashes = await self._hashes([(leaf_index, leaf_index + 1), *ranges])
        return hashes[0], hashes[1:]

    async def inclusions(self, leaf_indexes: list[int], tree_size: int) -> dict[int, list[bytes]]:
        """Audit paths of several entries in one tree, their nodes read in one go (a citizen's
        list carries a proof per entry). Indexes outside the tree are left out."""
        inside = sorted({i for i in leaf_indexes if 0 <= i < tree_size})
        ranges = [inclusion_ranges(i, tree_size) for i in inside]
        hashes = await self._hashes([r for group in ranges for r in group])
        paths: dict[int, list[bytes]] = {}
        at = 0
        for index, group in zip(inside, ranges, strict=True):
            paths[index] = hashes[at : at + len(group)]
            at += len(group)
        return paths

    async def consistency(self, first: int, second: int) -> list[bytes]:
        await self._check_size(second, "second")
        if not 0 <= first <= second:
            raise Refusal("malformed_request", "first must be between 0 and second.", "first")
        return await self._hashes(consistency_ranges(first, second))

    async def entry(self, leaf_index: int) -> bytes:
        record = await self._log.entry(leaf_index)
        if record is None:
            await self._check_retained(leaf_index)
            raise Refusal(
                "not_found", f"no audit entry has the leaf index {leaf_index}.", "leaf_index"
            )
        return record

    async def _check_size(self, tree_size: int, field: str) -> None:
        size = await self._log.size()
        if not 0 < tree_size <= size:
            raise Refusal(
                "not_found",
                f"the audit tree has {size} entries; it has no tree of {tree_size}.",
                field,
            )

    async def _hashes(self, ranges: list[tuple[int, int]]) -> list[bytes]:
        parts = [perfect_parts(low, high) for low, high in ranges]
        stored = await self._log.nodes([node for group in parts for node in group])
        try:
            return [fold([stored[node] for node in group]) for group in parts]
        except KeyError as missing:
            level, position = missing.args[0]
            await self._check_retained(
                ((position + 1) << level) - 1
            )  # a hash dropped with pruned entries
            raise RuntimeError(f"the audit tree lacks its stored node {missing}") from None

    async def _check_retained(self, leaf_index: int) -> None:
        retained = await self._log.retained_from()
        if leaf_index < retained:
            raise Refusal(
                "pruned",
                f"audit entries before {retained} are past the retention period: they are kept "
                "in the"
                " archive segments (crossroads audit export), no longer in the live log.",
                "leaf_index",
            )
