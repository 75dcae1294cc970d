"""The audit log over SQL, with group commit.

`append` returns only after the entry is committed, but concurrent appends share one commit: a
writer takes everything queued since its last commit and writes it in one transaction. Under load
that turns hundreds of fsyncs a second into a few dozen, without acknowledging anything early.
A failed commit fails every append in its batch; nothing is dropped silently.

Each batch also gives its entries their leaf indexes in the Merkle tree, in the transaction that
appends them, and stores the tree nodes they complete; the sequencer then only signs tree heads.
A separate sequencing transaction (read the entries back, rewrite each row with its index) would
write every entry twice. On SQLite, which has one writer at a time, that doubled the time the
write lock is held per entry. On PostgreSQL, where the appenders of several hub processes write
at once, it was most of the server's work under a flow of mutations (pg_stat_statements over
`bench mutations --store postgres`: of 15.5 s of statement time, 2.5 s reading the unsequenced
entries back, 2.5 s rewriting them, against 3.1 s inserting them): there an appender takes the
sequencer's advisory lock for its statement instead (a function of migration 0033, so one round
trip a batch), so that appends and sequencing take turns and each batch's indexes follow the
tree as the last one left it.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import queue
import threading
import time
from collections import deque
from typing import Any

import psycopg

from ...domain.audit import AuditRecord
from ...domain.merkle import Frontier, perfect_parts
from ...services.ports import AuditLog, StoreUnavailable
from ...services.request_scope import stamped_canonical
from ...verifier import leaf_hash
from .checkpoint import WalCheckpointer
from .connect import begin_immediate, sqlite_connect
from .database import Database, PostgresDatabase
from .multi_row import insert_values
from .outage import watchdog
from .transparency import SEQUENCER_LOCK, record_bytes
from .write_turn import TurnNotHad, WriteTurn

_INSERT = "INSERT INTO audit_log (seq, at_ms, subject_hash, record, leaf_index) VALUES "
_INSERT_NODE = "INSERT INTO merkle_nodes (level, position, hash) VALUES "
# (last seq, largest leaf index, whether entries wait for the sequencer), each from an index.
_STATE = (
    "SELECT (SELECT COALESCE(MAX(seq), 0) FROM audit_log),"
    " (SELECT MAX(leaf_index) FROM audit_log WHERE leaf_index IS NOT NULL),"
    " EXISTS (SELECT 1 FROM audit_log WHERE leaf_index IS NULL)"
)
_WAITING = "SELECT 1 FROM audit_log WHERE leaf_index IS NULL LIMIT 1"
_MAX_BATCH = 2000
# An append that finds the log idle this long since its last commit (or the commit delay, if
# longer) is on a quiet hub: its commit does not wait for company (see `_write_batches`).
_QUIET_SECONDS = 0.01


def _coming_together(delay: float, together: bool, ended: float) -> bool:
    """Whether an append arriving now should wait `delay` for others: the delay is on, the last
    commit held more than one append (`together`) and ended (`ended`, time.monotonic) recently."""
    return delay > 0 and together and time.monotonic() - ended < max(_QUIET_SECONDS, delay)


class _OnTheirWay:
    """Appends announced (`AuditLog.announce`) and not yet made, counted for a group commit.

    What the commit delay waits for is, mostly, the records of exchanges still running: once each
    of them has its append queued, nothing more is coming from them and the rest of the delay is
    only idle time. Under `bench exchange` (8 connections, two workers) a worker's few exchanges
    move in step: they all wait for one commit, are answered, and come back together, so the
    commit that waited out the delay left the worker with nothing to do for most of it
    (docs/benchmarks.md, "The commit that waits for no one"). Counted under a lock: a log may be
    appended to from the event loops of several threads (the writer is shared)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0

    def announce(self) -> None:
        with self._lock:
            self._count += 1

    def arrive(self) -> bool:
        """One announced append came (or was withdrawn); True when it was the last on its way."""
        with self._lock:
            self._count -= 1
            return self._count == 0

    def none(self) -> bool:
        return self._count == 0


def _row(record: AuditRecord) -> tuple[int, bytes | None, bytes]:
    """The record's row, made in the appending caller's context (so it names the request being
    served: services/request_scope.py)."""
    subject = bytes.fromhex(record.subject_hash) if record.subject_hash else None
    return (record.at_ms, subject, stamped_canonical(record))


# Entries an earlier version left without a leaf index (a rolling upgrade) are indexed by the
# appends themselves, this many of the oldest a batch, before the batch's own: left to the
# sequencer alone, the appends that land between its read and its turn would wait too, and under
# a steady flow the log would never catch up. Public for the tests.
CATCH_UP = 10_000


def _catch_up(conn: Any, frontier: Frontier) -> tuple[list[tuple[int, int, bytes]], bool]:
    """Give up to CATCH_UP waiting entries, oldest first, the next leaf indexes of `frontier`
    (extended in place); return the nodes they complete and whether entries still wait."""
    waiting = conn.execute(
        "SELECT seq, record FROM audit_log WHERE leaf_index IS NULL ORDER BY seq LIMIT ?",
        (CATCH_UP,),
    ).fetchall()
    first = frontier.size
    conn.executemany(
        "UPDATE audit_log SET leaf_index = ? WHERE seq = ?",
        [(first + i, seq) for i, (seq, _) in enumerate(waiting)],
    )
    nodes = frontier.extend(leaf_hash(record_bytes(record)) for _, record in waiting)
    more = len(waiting) == CATCH_UP and conn.execute(_WAITING).fetchone() is not None
    return nodes, more


class _SqlAuditReads(AuditLog):
    def __init__(self, db: Database) -> None:
        self._db = db

    async def read(self, start: int = 0, limit: int = 1000) -> list[tuple[int, bytes]]:
        rows = await self._db.fetchall(
            "SELECT seq, record FROM audit_log WHERE seq >= ? ORDER BY seq LIMIT ?", (start, limit)
        )
        return [(r[0], bytes(r[1])) for r in rows]

    async def count(self) -> int:
        row = await self._db.fetchone("SELECT COUNT(*) FROM audit_log")
        return row[0] if row else 0


class _GroupCommitLog(_SqlAuditReads):
    """What both adapters share: appends queued for a group commit, the announced ones counted
    (`_OnTheirWay`). An adapter queues (`_enqueue`, which counts an announced append's arrival)
    and is told when the last announced append was withdrawn (`_none_on_their_way`)."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._on_their_way = _OnTheirWay()

    async def append(self, record: AuditRecord, *, announced: bool = False) -> int:
        [seq] = await self._enqueue([_row(record)], announced)
        return seq

    async def append_many(
        self, records: list[AuditRecord], *, announced: bool = False
    ) -> list[int]:
        if not records:
            if announced:
                self.withdraw()
            return []
        return await self._enqueue([_row(record) for record in records], announced)

    def announce(self) -> None:
        self._on_their_way.announce()

    def withdraw(self) -> None:
        if self._on_their_way.arrive():
            self._none_on_their_way()

    @abc.abstractmethod
    async def _enqueue(self, rows: list[tuple], announced: bool) -> list[int]: ...

    @abc.abstractmethod
    def _none_on_their_way(self) -> None:
        """End a gathering that waits for announced appends."""


class SQLiteAuditLog(_GroupCommitLog):
    """Appends go through one writer thread with its own connection, off the event loop.

    With `sequence_on_append` (the default) each batch also takes its leaf indexes and stores the
    tree nodes it completes, as the module says, after up to CATCH_UP entries an earlier version
    left unindexed. `commit_delay_seconds`: how long the writer lets a batch gather while appends
    come in together (see `_write_batches`).
    """

    def __init__(
        self,
        db: Database,
        path: str,
        *,
        checkpointer: WalCheckpointer | None = None,
        sequence_on_append: bool = True,
        commit_delay_seconds: float = 0.0,
    ) -> None:
        super().__init__(db)
        self._path = path
        self._checkpointer = checkpointer
        self._sequence_on_append = sequence_on_append
        self._commit_delay = commit_delay_seconds
        self._frontier: Frontier | None = None  # the tree as this writer's last commit left it
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        # Set by the announced append that was the last on its way: it ends the commit delay.
        self._all_here = threading.Event()

    def _ensure_writer(self) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._write_forever, name="audit-writer", daemon=True
                    )
                    self._thread.start()

    def _none_on_their_way(self) -> None:
        self._all_here.set()

    async def _enqueue(self, rows: list[tuple], announced: bool) -> list[int]:
        self._ensure_writer()
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        last = announced and self._on_their_way.arrive()
        self._queue.put((rows, future, loop, announced))
        if last:  # after the put, so that the writer it wakes finds this append queued
            self._all_here.set()
        return await future

    def _write_forever(self) -> None:
        conn = sqlite_connect(self._path, busy_timeout_ms=0)  # begin_immediate does the waiting
        turn = WriteTurn(self._path)
        try:
            self._write_batches(conn, turn)
        finally:
            turn.close()
            conn.close()

    def _write_batches(self, conn: Any, turn: WriteTurn) -> None:
        """Commit what is queued, batch after batch, until the queue's stop mark (None).

        The audit writers of every hub process on this file take the writers' turn
        (write_turn.py) around their transaction, as the event loops' transactions do: a writer
        whose turn it is not sleeps in the kernel until the holder's COMMIT is through, and the
        kernel drops the turn of a process that dies. The batch is gathered once the turn is
        taken, so appends queued during the other writer's commit share this one instead of
        waiting for the next. In two busy processes (bench/audit_turns.py), when the writers
        still slept in `flock` themselves rather than through the turn's waiting thread, the
        waits cost 12-22 µs of CPU a record against 35-64 polling `BEGIN IMMEDIATE` every 0.2
        ms, and the writers 25-31 % less in all (docs/benchmarks.md, "The audit writers take
        turns by a lock"). A writer that takes no turn is still waited for by
        `begin_immediate`; a turn not had within its deadline fails the appends waiting, as a
        failed commit does.

        While appends come in together (the last batch held more than one, and the next came
        within `_QUIET_SECONDS` or the delay of it), the writer lets the next batch gather for up
        to `commit_delay_seconds` before taking its turn, as PostgreSQL's `commit_delay` does: a
        commit's cost is mostly its own (the pages of the tree's right edge and of the indexes'
        ends, written again by every commit, and the fsync), so fewer commits of more entries
        cost less each. Without it, under `bench exchange` (8 connections, two
        workers) a commit held 2.6 entries on average, the log grew by 18 KB an entry, and the
        durable write took 0.25 ms of the hub's 0.7 ms of CPU an exchange (docs/benchmarks.md,
        "The audit log's commits"). An append on a quiet hub is not delayed. The gathering ends
        as soon as no announced append is on its way any more (`_OnTheirWay`): at once when the
        first append was announced and was the last, otherwise when the last one comes.
        """
        together = False  # whether the last batch held more than one append
        committed = 0.0  # when it ended (time.monotonic)
        while True:
            first = self._queue.get()
            if first is None:
                return
            if _coming_together(self._commit_delay, together, committed):
                self._all_here.clear()  # before the count is read: a later arrival sets it again
                if not (first[3] and self._on_their_way.none()):
                    self._all_here.wait(self._commit_delay)
            try:
                with turn.held():
                    batch, stop = self._gather(first)
                    outcome = self._transaction(conn, batch)
            except TurnNotHad as exc:  # every append waiting gets the error, as from a commit
                batch, stop = self._gather(first)
                outcome = [exc] * len(batch)
            together, committed = len(batch) > 1, time.monotonic()
            by_loop: dict[Any, list] = {}
            for (_, future, loop, _), result in zip(batch, outcome, strict=True):
                by_loop.setdefault(loop, []).append((future, result))
            for loop, results in by_loop.items():
                loop.call_soon_threadsafe(_resolve, results)
            if self._checkpointer is not None:
                self._checkpointer.restart_if_wanted(conn)
            if stop:
                return

    def _gather(self, first: Any) -> tuple[list, bool]:
        """`first` and what is queued behind it, up to `_MAX_BATCH` rows; True when the stop
        mark was met (it ends the writer after this batch)."""
        batch, rows = [first], len(first[0])
        while rows < _MAX_BATCH:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                return batch, True
            batch.append(item)
            rows += len(item[0])
        return batch, False

    def _transaction(self, conn: Any, batch: list) -> list[Any]:
        """Each append's sequence numbers, or the error that failed the batch, for every one."""
        outcome: list[Any]
        rows = [row for item_rows, *_ in batch for row in item_rows]
        try:
            leaves = [leaf_hash(row[2]) for row in rows] if self._sequence_on_append else []
            begin_immediate(conn)
            # Inside the write transaction no other connection (or hub process) can append: the
            # numbers after the largest are ours to give. One query reads where the log and its
            # tree stand, and each table takes the batch in a few statements (see multi_row.py).
            last, top, waiting = conn.execute(_STATE).fetchone()
            seqs = list(range(last + 1, last + 1 + len(rows)))
            frontier = self._tree(conn, top) if self._sequence_on_append else None
            nodes: list[tuple[int, int, bytes]] = []
            if frontier is not None and waiting:
                nodes, waiting = _catch_up(conn, frontier)
            if frontier is None or waiting:
                insert_values(
                    conn, _INSERT, [(seq, *row, None) for seq, row in zip(seqs, rows, strict=True)]
                )
            else:
                first = frontier.size
                insert_values(
                    conn,
                    _INSERT,
                    [
                        (seq, *row, first + i)
                        for i, (seq, row) in enumerate(zip(seqs, rows, strict=True))
                    ],
                )
                nodes += frontier.extend(iter(leaves))
            if nodes:
                insert_values(conn, _INSERT_NODE, nodes)
            conn.execute("COMMIT")
            self._frontier = frontier
            outcome, at = [], 0
            for item_rows, *_ in batch:  # each append its own numbers, in its order
                outcome.append(seqs[at : at + len(item_rows)])
                at += len(item_rows)
        except Exception as exc:  # reported to every waiting append, never swallowed
            self._frontier = None  # it may hold leaves that were rolled back: reload it next time
            # The transaction may not have begun; the original error is what callers get.
            with contextlib.suppress(Exception):
                conn.execute("ROLLBACK")
            outcome = [exc] * len(batch)
        return outcome

    def _tree(self, conn: Any, top: int | None) -> Frontier:
        """A copy of the tree's right edge as stored, to extend; `top` is the largest leaf index
        (read inside the write transaction)."""
        size = 0 if top is None else top + 1
        if (
            self._frontier is None or self._frontier.size != size
        ):  # first batch, or another process wrote
            # The parts this writer knows already are not read again: after another process's
            # batch of a few entries, most of the edge (its high levels) is the same.
            known = (
                self._frontier.known()
                if self._frontier is not None and self._frontier.size < size
                else {}
            )
            hashes = []
            for level, position in perfect_parts(0, size):
                if (level, position) in known:
                    hashes.append(known[level, position])
                    continue
                row = conn.execute(
                    "SELECT hash FROM merkle_nodes WHERE level = ? AND position = ?",
                    (level, position),
                ).fetchone()
                if row is None:
                    raise RuntimeError(
                        f"the audit tree of {size} entries lacks its stored node"
                        f" {(level, position)}; run crossroads audit verify"
                    )
                hashes.append(bytes(row[0]))
            self._frontier = Frontier(size, hashes)
        return self._frontier.copy()

    async def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            await asyncio.to_thread(self._thread.join)
            self._thread = None


def _settle(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


def _resolve(results: list) -> None:
    for future, result in results:
        if future.cancelled():
            continue
        if isinstance(result, Exception):
            future.set_exception(result)
        else:
            future.set_result(result)


# The arrays go as binary parameters (%b): dumped as text, psycopg quotes every element in Python
# (6 % of a pushing hub process's samples in py-spy, for the push's audit records). One statement,
# so one round trip: numbers drawn for the batch (a volatile CTE is evaluated once), the rows
# inserted with them, the numbers returned in the batch's order. The sequence is resolved once
# (an InitPlan), not named to nextval as a text, which looks it up in the catalog for every row
# (migration 0035).
_PG_APPEND = (
    "WITH batch AS ("
    " SELECT nextval((SELECT pg_get_serial_sequence('audit_log', 'seq')::regclass)) AS seq,"
    " at_ms, subject_hash, record, n"
    " FROM unnest(%b::bigint[], %b::bytea[], %b::bytea[])"
    " WITH ORDINALITY AS t(at_ms, subject_hash, record, n)),"
    " stored AS (INSERT INTO audit_log (seq, at_ms, subject_hash, record)"
    " SELECT seq, at_ms, subject_hash, record FROM batch)"
    " SELECT seq FROM batch ORDER BY n"
)
# The same, each entry given its leaf index and the tree nodes it completes stored, under the
# sequencer's lock (migration 0033: the whole append is one statement, so one round trip, and
# the lock is held for the server's work and the commit only).
_PG_APPEND_SEQUENCED = (
    "SELECT crossroads_audit_append(%b::bigint[], %b::bytea[], %b::bytea[], %b::bytea[], %s,"
    " %s, %s)"
)


class PostgresAuditLog(_GroupCommitLog):
    """Appends queue in the event loop; one flush at a time commits everything queued.

    With `sequence_on_append` (the default) each flush gives its entries their leaf indexes under
    the sequencer's lock, as the module says, after up to CATCH_UP entries an earlier version
    left unindexed, as on SQLite. While appends come in together (the last flush held more than
    one and ended within `_QUIET_SECONDS` or the delay), a flush first waits up to
    `commit_delay_seconds` for more, and no longer than until no announced append is on its way
    (`_OnTheirWay`), as SQLiteAuditLog's writer does:
    under `bench exchange` 8 % less of the hub's CPU an exchange and 11 % less of the server's.
    """

    def __init__(
        self,
        db: PostgresDatabase,
        *,
        sequence_on_append: bool = True,
        commit_delay_seconds: float = 0.0,
    ) -> None:
        super().__init__(db)
        self._pg = db
        self._sequence_on_append = sequence_on_append
        self._commit_delay = commit_delay_seconds
        self._together = False  # whether the last flush held more than one append
        self._flushed = 0.0  # when it ended (time.monotonic)
        self._pending: deque[tuple[list[tuple], asyncio.Future, bool]] = deque()
        self._flushing: asyncio.Task | None = None
        # While a flush gathers: resolved by the announced append that was the last on its way.
        self._all_here: asyncio.Future | None = None

    def _none_on_their_way(self) -> None:
        if self._all_here is not None and not self._all_here.done():
            self._all_here.set_result(None)

    async def _enqueue(self, rows: list[tuple], announced: bool) -> list[int]:
        future = asyncio.get_running_loop().create_future()
        self._pending.append((rows, future, announced))
        if announced and self._on_their_way.arrive():
            self._none_on_their_way()
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush())
        return await future

    async def _gather(self) -> None:
        """Wait up to the commit delay, or until no announced append is on its way (as the
        SQLite writer does, `_OnTheirWay`): at once when the first append waiting was announced
        and none is on its way."""
        if self._pending[0][2] and self._on_their_way.none():
            return
        loop = asyncio.get_running_loop()
        self._all_here = gathering = loop.create_future()
        timer = loop.call_later(self._commit_delay, _settle, gathering)
        try:
            await gathering
        finally:
            timer.cancel()
            self._all_here = None

    async def _flush(self) -> None:
        while self._pending:
            if _coming_together(self._commit_delay, self._together, self._flushed):
                await self._gather()
            batch, count = [], 0
            while self._pending and (not batch or count + len(self._pending[0][0]) <= _MAX_BATCH):
                batch.append(self._pending.popleft())
                count += len(batch[-1][0])
            self._together = len(batch) > 1
            rows = [row for item_rows, *_ in batch for row in item_rows]
            try:
                # An outage is raised as StoreUnavailable, within the bounds.
                async with self._pg.connection() as conn:
                    with watchdog(conn, self._pg.statement_timeout):
                        if self._sequence_on_append:
                            seqs = await self._append_sequenced(conn, rows)
                        else:
                            seqs = await self._append(conn, rows)
                results: list[Any] = []
                at = 0
                for item_rows, *_ in batch:  # each append its own numbers, in its order
                    results.append(seqs[at : at + len(item_rows)])
                    at += len(item_rows)
            except Exception as exc:  # reported to every waiting append, never swallowed
                results = [exc] * len(batch)
            self._flushed = time.monotonic()
            _resolve(
                [(future, result) for (_, future, _), result in zip(batch, results, strict=True)]
            )

    @staticmethod
    def _columns(rows: list[tuple]) -> tuple[list, list, list]:
        return [row[0] for row in rows], [row[1] for row in rows], [row[2] for row in rows]

    async def _append(self, conn: Any, rows: list[tuple]) -> list[int]:
        cur = await conn.execute(_PG_APPEND, self._columns(rows))
        return [row[0] for row in await cur.fetchall()]

    async def _append_sequenced(self, conn: Any, rows: list[tuple]) -> list[int]:
        """The batch appended with its leaf indexes (hashed here, folded into the tree by the
        server under the sequencer's lock), in one statement that is its own transaction."""
        leaves = [leaf_hash(row[2]) for row in rows]
        # The server stops waiting for the lock before the watchdog cuts the connection: a
        # statement cut while it waits would still run once the lock came, and commit an append
        # its caller was told had failed. A lock held that long is the store not answering in
        # time, as the watchdog's cut would be (503 `not_ready`), and nothing was written.
        wait_ms = max(1, int(self._pg.statement_timeout * 800))
        try:
            cur = await conn.execute(
                _PG_APPEND_SEQUENCED,
                (*self._columns(rows), leaves, SEQUENCER_LOCK, wait_ms, CATCH_UP),
            )
        except psycopg.errors.LockNotAvailable as exc:
            raise StoreUnavailable() from exc
        row = await cur.fetchone()
        return list(row[0])

    async def close(self) -> None:
        if self._flushing is not None:
            await self._flushing
