"""The audit trail's ports: the append-only log of records, its Merkle tree in the store (leaf
indexes, subtree hashes, signed tree heads, archive segments), the places outside the hub's
control that its tree heads are published to, and what a witness keeps of the heads it
countersigned."""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from typing import Any

from ...domain.archive import Segment
from ...domain.audit import AuditRecord
from ...domain.merkle import Node, TreeHead

Prove = Callable[[int, int], Awaitable[list[bytes]]]  # consistency proof between two tree sizes


class AuditLog(abc.ABC):
    @abc.abstractmethod
    async def append(self, record: AuditRecord, *, announced: bool = False) -> int:
        """Append durably and return the entry's index; returns only once the entry is committed.
        `announced`: this is the append that an earlier `announce` promised."""

    @abc.abstractmethod
    async def append_many(
        self, records: list[AuditRecord], *, announced: bool = False
    ) -> list[int]:
        """`append` for several records at once, committed together (all or none), their
        indexes in order; one wait for the caller instead of one per record. `announced` as
        for `append`: one announcement for the whole call."""

    @abc.abstractmethod
    def announce(self) -> None:
        """Work has begun that will append soon (an exchange being answered): a log that lets
        its commits gather appends waits for this one rather than commit without it, and stops
        waiting once every announced append has come. Each announcement is ended by exactly one
        append with `announced=True` or one `withdraw`."""

    @abc.abstractmethod
    def withdraw(self) -> None:
        """An announced append will not come (the work ended without a record to append here)."""

    @abc.abstractmethod
    async def read(self, start: int = 0, limit: int = 1000) -> list[tuple[int, bytes]]:
        """Entries in index order from `start`: (index, canonical record bytes)."""

    @abc.abstractmethod
    async def count(self) -> int: ...


class TransparencyLog(abc.ABC):
    """The audit log's Merkle tree in the store: leaf indexes, subtree hashes, signed tree heads."""

    @abc.abstractmethod
    async def size(self) -> int:
        """How many entries have a leaf index (the tree's size)."""

    @abc.abstractmethod
    async def unsequenced(self, limit: int) -> list[tuple[int, bytes]]:
        """Committed entries without a leaf index yet, oldest first: (seq, leaf hash), the leaf
        hash being `verifier.leaf_hash` of the canonical record."""

    @abc.abstractmethod
    async def sequence(
        self, first_index: int, seqs: list[int], nodes: list[tuple[int, int, bytes]]
    ) -> bool:
        """Give `seqs` the leaf indexes from `first_index` on and keep `nodes` (level, position,
        hash; level 0 are the leaves), in one transaction. False, changing nothing, when the tree
        no longer has `first_index` entries (another sequencer went first)."""

    @abc.abstractmethod
    async def nodes(self, wanted: list[Node]) -> dict[Node, bytes]:
        """The stored hashes of these complete subtrees (one round trip)."""

    @abc.abstractmethod
    async def entry(self, leaf_index: int) -> bytes | None:
        """The canonical record at a leaf index."""

    @abc.abstractmethod
    async def entries(self, start: int, limit: int) -> list[tuple[int, bytes]]:
        """Sequenced entries in leaf order from `start`: (leaf index, canonical record)."""

    @abc.abstractmethod
    async def about_subject(
        self, subject_key: bytes, before_seq: int | None, limit: int
    ) -> list[tuple[int, int | None, bytes]]:
        """Entries logged under a subject's keyed hash, newest first, older than `before_seq` when
        given: (seq, leaf index or None while unsequenced, canonical record). Served from an index
        on the keyed hash; no identifier is stored in clear."""

    @abc.abstractmethod
    async def level_nodes(self, level: int, start: int, end: int) -> dict[int, bytes]:
        """The stored hashes of one level, by position, for positions start ≤ p < end."""

    @abc.abstractmethod
    async def heads(self) -> list[TreeHead]:
        """Every signed tree head, smallest first."""

    @abc.abstractmethod
    async def put_head(self, head: TreeHead) -> None: ...

    @abc.abstractmethod
    async def latest_head(self) -> TreeHead | None: ...

    @abc.abstractmethod
    async def head(self, tree_size: int) -> TreeHead | None: ...

    @abc.abstractmethod
    async def put_cosignature(self, tree_size: int, witness: str, cosignature: str) -> None:
        """Keep a witness's countersignature of the head of `tree_size` (once per witness)."""

    @abc.abstractmethod
    async def cosignatures(self, tree_size: int) -> dict[str, str]:
        """The countersignatures of the head of `tree_size`, by witness URL."""

    @abc.abstractmethod
    async def segments(self) -> list[Segment]:
        """The exported archive segments, in leaf order."""

    @abc.abstractmethod
    async def add_segment(self, segment: Segment) -> None: ...

    @abc.abstractmethod
    async def retained_from(self) -> int:
        """The first leaf index the live store still holds (0 until segments are pruned)."""

    @abc.abstractmethod
    async def prune(self, up_to: int, keep: list[Node], at_ms: int) -> int:
        """Remove the entries below leaf `up_to` and the stored hashes wholly below it except
        `keep` (the roots the remaining tree is built on); mark the segments up to it pruned.
        The mark is committed first, so a prune cut short by a crash is finished by the next.
        Returns how many entries were removed."""


class HistoryMismatch(RuntimeError):
    """A witness countersigned a head that this log does not extend: the store was restored to an
    earlier point (docs/operations.md, "Backup and restore"), or the log was forked."""


class HeadTarget(abc.ABC):
    """A place the hub's signed tree heads are published to: a folder, or a witness
    (adapters.head_targets); services.head_publisher hands each the latest head."""

    name: str  # a witness's base URL, or the folder's path

    @abc.abstractmethod
    async def publish(self, head: TreeHead, prove: Prove) -> str | None:
        """Hand over `head`; return a witness's countersignature (None from a folder); raise
        when the target did not take it."""

    # Optional to override: a folder holds no connection, so by default there is nothing to close.
    async def close(self) -> None:  # noqa: B027
        """Release connections."""


class KeyHistorySource(abc.ABC):
    """Where a witness reads the hub's key history (/.well-known/crossroads/key-history)."""

    @abc.abstractmethod
    def fetch(self) -> dict[str, Any]:
        """The history as the hub serves it; raises when it cannot be had."""


class WitnessLedger(abc.ABC):
    """What a witness keeps: the heads it countersigned, and the evidence of split views."""

    @abc.abstractmethod
    def latest(self) -> dict[str, Any] | None:
        """The last head countersigned: the hub's head dict plus "cosignature"."""

    @abc.abstractmethod
    def countersigned(self, head: dict[str, Any]) -> None:
        """Keep a countersigned head durably before the cosignature is given out."""

    @abc.abstractmethod
    def evidence(self, record: dict[str, Any]) -> None:
        """Keep a refused, contradicting head durably."""

    @abc.abstractmethod
    def restored(self, record: dict[str, Any]) -> None:
        """Keep a hub's restore declaration durably, and its countersigned `record["head"]` as
        the latest head (services/witness_restore.py)."""

    @abc.abstractmethod
    def countersigned_at_most(self, size: int) -> dict[str, Any] | None:
        """The largest head of at most `size` entries countersigned in the current history (since
        the last restore declaration, which it may be); None when there is none."""

    @abc.abstractmethod
    def restores(self) -> list[dict[str, Any]]:
        """Every restore declaration taken, oldest first."""
