"""The audit log's Merkle tree over SQL (both dialects)."""

from __future__ import annotations

from ...domain.archive import Segment
from ...domain.merkle import Node, TreeHead
from ...services.ports import TransparencyLog
from ...verifier import leaf_hash
from .database import Database

_NODE_BATCH = 200  # (level, position) pairs per SELECT: a proof needs at most about 2·log2(n)


class SqlTransparencyLog(TransparencyLog):
    def __init__(self, db: Database) -> None:
        self._db = db

    async def size(self) -> int:
        row = await self._db.fetchone(
            "SELECT MAX(leaf_index) FROM audit_log WHERE leaf_index IS NOT NULL"
        )
        return 0 if row is None or row[0] is None else row[0] + 1

    async def unsequenced(self, limit: int) -> list[tuple[int, bytes]]:
        if self._db.dialect == "postgres":
            # PostgreSQL hashes each record where it lies (RFC 6962's leaf: SHA-256 of a zero
            # byte and the entry), so the sequencer reads 32 bytes an entry instead of the record
            # and turns none of them into Python bytes: the leading hub process spent about a
            # sixth of its samples in the sequencer, much of it reading the records back.
            rows = await self._db.fetchall(
                "SELECT seq, sha256('\\x00'::bytea || record) FROM audit_log"
                " WHERE leaf_index IS NULL ORDER BY seq LIMIT ?",
                (limit,),
            )
            return [(r[0], bytes(r[1])) for r in rows]
        rows = await self._db.fetchall(
            "SELECT seq, record FROM audit_log WHERE leaf_index IS NULL ORDER BY seq LIMIT ?",
            (limit,),
        )
        return [(r[0], leaf_hash(record_bytes(r[1]))) for r in rows]

    async def sequence(
        self, first_index: int, seqs: list[int], nodes: list[tuple[int, int, bytes]]
    ) -> bool:
        async with self._db.transaction() as tx:
            if self._db.dialect == "postgres":
                # Sequencers of several hub processes take turns; the loser sees the new size below.
                await tx.execute("SELECT pg_advisory_xact_lock(?)", (SEQUENCER_LOCK,))
            row = await tx.fetchone(
                "SELECT MAX(leaf_index) FROM audit_log WHERE leaf_index IS NOT NULL"
            )
            size = 0 if row is None or row[0] is None else row[0] + 1
            if size != first_index:
                return False
            for offset, low, high in _runs(seqs):  # one statement per run of consecutive seqs
                await tx.execute(
                    "UPDATE audit_log SET leaf_index = seq + ? WHERE seq >= ?"
                    " AND seq <= ? AND leaf_index IS NULL",
                    (first_index + offset - low, low, high),
                )
            given = await tx.fetchone(
                "SELECT COUNT(*) FROM audit_log WHERE leaf_index >= ?", (first_index,)
            )
            if given is None or given[0] != len(seqs):  # an entry was already sequenced, or is gone
                raise RuntimeError(
                    f"sequencing from leaf {first_index}: {len(seqs)} entries named, "
                    f"{given[0] if given else 0} took an index; nothing was changed"
                )
            await tx.insert_rows("merkle_nodes", ("level", "position", "hash"), nodes)
        return True

    async def nodes(self, wanted: list[Node]) -> dict[Node, bytes]:
        found: dict[Node, bytes] = {}
        unique = sorted(set(wanted))
        if self._db.dialect == "postgres" and unique:
            # One query, the pairs as two arrays: PostgreSQL plans a long OR of pairs as that many
            # bitmap scans (about 20 ms for a citizen's page of 50 proofs, against 5 ms this way).
            rows = await self._db.fetchall(
                "SELECT n.level, n.position, n.hash FROM merkle_nodes n"
                " JOIN unnest(%b::smallint[], %b::bigint[]) AS w(level, position)"
                " ON n.level = w.level AND n.position = w.position",
                ([level for level, _ in unique], [position for _, position in unique]),
            )
            return {(r[0], r[1]): bytes(r[2]) for r in rows}
        for at in range(0, len(unique), _NODE_BATCH):
            group = unique[at : at + _NODE_BATCH]
            where = " OR ".join("(level = ? AND position = ?)" for _ in group)
            rows = await self._db.fetchall(
                f"SELECT level, position, hash FROM merkle_nodes WHERE {where}",
                [value for node in group for value in node],
            )
            found.update({(r[0], r[1]): bytes(r[2]) for r in rows})
        return found

    async def entry(self, leaf_index: int) -> bytes | None:
        row = await self._db.fetchone(
            "SELECT record FROM audit_log WHERE leaf_index = ?", (leaf_index,)
        )
        return None if row is None else record_bytes(row[0])

    async def entries(self, start: int, limit: int) -> list[tuple[int, bytes]]:
        rows = await self._db.fetchall(
            "SELECT leaf_index, record FROM audit_log WHERE leaf_index >= ?"
            " ORDER BY leaf_index LIMIT ?",
            (start, limit),
        )
        return [(r[0], record_bytes(r[1])) for r in rows]

    async def about_subject(
        self, subject_key: bytes, before_seq: int | None, limit: int
    ) -> list[tuple[int, int | None, bytes]]:
        # The index is per bucket of seqs (migration 0003): walk the buckets newest first, a
        # window of them per query, until the page is full. A cursor past the newest entry starts
        # from it: the walk would otherwise visit every empty bucket up to the cursor's.
        row = await self._db.fetchone("SELECT MAX(seq) FROM audit_log")
        if row is None or row[0] is None:
            return []
        before_seq = row[0] + 1 if before_seq is None else min(before_seq, row[0] + 1)
        found: list[tuple[int, int | None, bytes]] = []
        bucket = (before_seq - 1) >> _SUBJECT_BUCKET_BITS
        while bucket >= 0 and len(found) < limit:
            window = list(range(bucket, max(-1, bucket - _BUCKETS_PER_QUERY), -1))
            rows = await self._db.fetchall(
                "SELECT seq, leaf_index, record FROM audit_log"
                f" WHERE (seq >> {_SUBJECT_BUCKET_BITS}) IN ({', '.join('?' * len(window))})"
                " AND subject_hash = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
                (*window, subject_key, before_seq, limit - len(found)),
            )
            found.extend((r[0], r[1], record_bytes(r[2])) for r in rows)
            bucket -= _BUCKETS_PER_QUERY
        return found

    async def level_nodes(self, level: int, start: int, end: int) -> dict[int, bytes]:
        rows = await self._db.fetchall(
            "SELECT position, hash FROM merkle_nodes WHERE level = ? AND position >= ?"
            " AND position < ?",
            (level, start, end),
        )
        return {r[0]: bytes(r[1]) for r in rows}

    async def heads(self) -> list[TreeHead]:
        rows = await self._db.fetchall(
            "SELECT tree_size, root_hash, timestamp_ms, signature FROM tree_heads"
            " ORDER BY tree_size"
        )
        return [TreeHead(r[0], bytes(r[1]), r[2], r[3]) for r in rows]

    async def put_head(self, head: TreeHead) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO tree_heads (tree_size, root_hash, timestamp_ms, signature)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (tree_size) DO NOTHING",
                (head.tree_size, head.root_hash, head.timestamp_ms, head.signature),
            )

    async def latest_head(self) -> TreeHead | None:
        return await self._head(
            "SELECT tree_size, root_hash, timestamp_ms, signature FROM tree_heads"
            " ORDER BY tree_size DESC LIMIT 1",
            (),
        )

    async def head(self, tree_size: int) -> TreeHead | None:
        return await self._head(
            "SELECT tree_size, root_hash, timestamp_ms, signature FROM tree_heads"
            " WHERE tree_size = ?",
            (tree_size,),
        )

    async def put_cosignature(self, tree_size: int, witness: str, cosignature: str) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO tree_head_cosignatures (tree_size, witness, cosignature)"
                " VALUES (?, ?, ?) ON CONFLICT (tree_size, witness) DO NOTHING",
                (tree_size, witness, cosignature),
            )

    async def cosignatures(self, tree_size: int) -> dict[str, str]:
        rows = await self._db.fetchall(
            "SELECT witness, cosignature FROM tree_head_cosignatures WHERE tree_size = ?"
            " ORDER BY witness",
            (tree_size,),
        )
        return {r[0]: r[1] for r in rows}

    async def segments(self) -> list[Segment]:
        rows = await self._db.fetchall(
            "SELECT start_index, end_index, file_name, sha256, exported_at_ms, pruned_at_ms"
            " FROM audit_segments ORDER BY start_index"
        )
        return [Segment(*row) for row in rows]

    async def add_segment(self, segment: Segment) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO audit_segments (start_index, end_index, file_name, sha256,"
                " exported_at_ms) VALUES (?, ?, ?, ?, ?)",
                (
                    segment.start,
                    segment.end,
                    segment.file_name,
                    segment.sha256,
                    segment.exported_at_ms,
                ),
            )

    async def retained_from(self) -> int:
        row = await self._db.fetchone(
            "SELECT MAX(end_index) FROM audit_segments WHERE pruned_at_ms IS NOT NULL"
        )
        return 0 if row is None or row[0] is None else row[0]

    async def prune(self, up_to: int, keep: list[Node], at_ms: int) -> int:
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE audit_segments SET pruned_at_ms = ? WHERE end_index <= ?"
                " AND pruned_at_ms IS NULL",
                (at_ms, up_to),
            )
        # Then in chunks, each its own transaction, so that appends are never held up for long.
        removed = 0
        for low in range(0, up_to, _PRUNE_CHUNK):
            async with self._db.transaction() as tx:
                removed += await tx.execute(
                    "DELETE FROM audit_log WHERE leaf_index >= ? AND leaf_index < ?",
                    (low, min(up_to, low + _PRUNE_CHUNK)),
                )
        kept = dict(
            keep
        )  # level -> the one position kept at that level (perfect parts have distinct levels)
        for level in range(up_to.bit_length()):
            below = up_to >> level  # positions whose whole subtree lies below up_to
            for low in range(0, below, _PRUNE_CHUNK):
                high = min(below, low + _PRUNE_CHUNK)
                async with self._db.transaction() as tx:
                    await tx.execute(
                        "DELETE FROM merkle_nodes WHERE level = ? AND position >= ?"
                        " AND position < ? AND position <> ?",
                        (level, low, high, kept.get(level, -1)),
                    )
        return removed

    async def _head(self, sql: str, params: tuple) -> TreeHead | None:
        row = await self._db.fetchone(sql, params)
        return None if row is None else TreeHead(row[0], bytes(row[1]), row[2], row[3])


def _runs(seqs: list[int]) -> list[tuple[int, int, int]]:
    """(offset in seqs, first seq, last seq) of each run of consecutive numbers. Committed entries
    mostly come in one run: updating a range costs one statement instead of one per entry."""
    runs: list[tuple[int, int, int]] = []
    start = 0
    for i in range(1, len(seqs) + 1):
        if i == len(seqs) or seqs[i] != seqs[i - 1] + 1:
            runs.append((start, seqs[start], seqs[i - 1]))
            start = i
    return runs


def record_bytes(value: bytes | memoryview | str) -> bytes:
    # SQLite stores whatever it is given: a record rewritten as TEXT by hand must still be read,
    # so that `audit verify` reports it as modified instead of failing on it.
    return value.encode() if isinstance(value, str) else bytes(value)


_SUBJECT_BUCKET_BITS = 14  # as in migration 0003's index expression, which must match it exactly
_BUCKETS_PER_QUERY = 64
_PRUNE_CHUNK = 50_000
# "CROSSQ" + 1: the advisory lock of the audit sequencer, which PostgreSQL's appenders take too
# (audit.py), so that the tree grows by one writer at a time.
SEQUENCER_LOCK = 0x43524F53_53510001
