"""The statistics extraction's order over a stream of numbered rows: the order they commit in.

A reader that keeps only "how far it got" must never move past a row that may still commit
before it, or that row is left behind for ever.

- SQLite has one writer at a time, holding the write lock from its first insert to its
  commit: numbers commit in the order they are drawn, and the number alone is the order.
- PostgreSQL draws a declaration id or an audit sequence number when the row is inserted, not
  when it commits: several hub processes write at once, and a row numbered 7 may commit after
  one numbered 8 was read. So each row records the transaction that wrote it (`xact_id`, xid8,
  migration 0020), and a stream is read by (transaction, number), only below the horizon:
  the oldest transaction still running in this database (`_HORIZON`). Every transaction of
  this database with a lower id has ended, so every row below it is committed for good or
  never will be, and the rows read there never gain a neighbour before the position. A
  transaction still running (a DmfA file being stored, an audit batch under way) holds the
  stream back until it ends, then its rows come next.
  Rows written before migration 0020 have transaction 0 and keep their numbers' order.
  The cost on the insert path is one eight-byte column and one index entry per row.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...services.ports import Position
from .database import Database

# The oldest transaction still running in this database (xid8), else the next one to begin.
# Transaction ids are the server's: the snapshot's own xmin would wait for every database's
# transactions (another application's, another test's); only those whose backend is connected
# here (pg_stat_activity, `backend_xid`, 32 bits: matched on the snapshot's low 32 bits) or
# that are prepared here can write these tables. Read in a statement of its own, before the
# rows: a transaction that ends between the snapshot and the look-up at its backend is then
# committed in the snapshot of every later statement.
_HORIZON = """
SELECT COALESCE(
  (SELECT min(x) FROM pg_snapshot_xip(pg_current_snapshot()) AS x
   WHERE (x::text::bigint & 4294967295) IN (
     SELECT backend_xid::text::bigint FROM pg_stat_activity
     WHERE datname = current_database() AND backend_xid IS NOT NULL
     UNION ALL
     SELECT transaction::text::bigint FROM pg_prepared_xacts
     WHERE database = current_database())),
  pg_snapshot_xmax(pg_current_snapshot()))::text
"""


@dataclass(frozen=True)
class Last:
    """A batch's last row (its position) and the range of the numbers in the batch."""

    position: Position
    lowest: int
    highest: int


class _Numbers:
    """SQLite: the numbers are in commit order."""

    async def horizon(self, db: Database) -> int:
        return 0  # no transaction ids: nothing bounds the numbers

    def after(self, column: str, after: Position, horizon: int) -> tuple[str, tuple[int, ...]]:
        return f"{column} > ?", (after.number,)

    def ordering(self, column: str) -> str:
        return column

    def between(
        self, alias: str, column: str, after: Position, last: Last
    ) -> tuple[str, tuple[int, ...]]:
        return (
            f"{alias}.{column} > ? AND {alias}.{column} <= ?",
            (after.number, last.position.number),
        )

    def members(
        self, column: str, table: str, number: str, after: Position, last: Last
    ) -> tuple[str, tuple[int, ...]]:
        """A condition that `column` names a row of `table` in the batch."""
        return f"{column} > ? AND {column} <= ?", (after.number, last.position.number)

    async def last_of_next(
        self, db: Database, table: str, column: str, after: Position, limit: int
    ) -> Last | None:
        row = await db.fetchone(
            f"SELECT MIN(n), MAX(n) FROM (SELECT {column} AS n FROM {table}"
            f" WHERE {column} > ? ORDER BY {column} LIMIT ?) b",
            (after.number, limit),
        )
        if row is None or row[1] is None:
            return None
        return Last(Position(0, row[1]), row[0], row[1])

    async def position_of(self, db: Database, table: str, column: str, number: int) -> Position:
        return Position(0, number)


class _Transactions:
    """PostgreSQL: by (transaction, number), below the horizon."""

    async def horizon(self, db: Database) -> int:
        row = await db.fetchone(_HORIZON)
        if row is None:
            raise RuntimeError("PostgreSQL returned no snapshot")
        return int(row[0])

    def after(self, column: str, after: Position, horizon: int) -> tuple[str, tuple[int, ...]]:
        return (
            f"(xact_id, {column}) > (?::text::xid8, ?) AND xact_id < ?::text::xid8",
            (after.transaction, after.number, horizon),
        )

    def ordering(self, column: str) -> str:
        return f"xact_id, {column}"

    def between(
        self, alias: str, column: str, after: Position, last: Last
    ) -> tuple[str, tuple[int, ...]]:
        # Every row up to `last` is below the horizon `last` was found under: the statements
        # that read them, each with a snapshot of its own, all see the same rows.
        row = f"({alias}.xact_id, {alias}.{column})"
        return (
            f"{row} > (?::text::xid8, ?) AND {row} <= (?::text::xid8, ?)",
            (after.transaction, after.number, last.position.transaction, last.position.number),
        )

    def members(
        self, column: str, table: str, number: str, after: Position, last: Last
    ) -> tuple[str, tuple[int, ...]]:
        inner, params = self.between("b", number, after, last)
        return (
            f"{column} >= ? AND {column} <= ? AND {column} IN"
            f" (SELECT b.{number} FROM {table} b WHERE {inner})",
            (last.lowest, last.highest, *params),
        )

    async def last_of_next(
        self, db: Database, table: str, column: str, after: Position, limit: int
    ) -> Last | None:
        where, params = self.after(column, after, await self.horizon(db))
        row = await db.fetchone(
            f"SELECT b.xact_id::text, b.n, MIN(b.n) OVER (), MAX(b.n) OVER ()"
            f" FROM (SELECT xact_id, {column} AS n FROM {table} WHERE {where}"
            f" ORDER BY xact_id, {column} LIMIT ?) b ORDER BY b.xact_id DESC, b.n DESC LIMIT 1",
            (*params, limit),
        )
        if row is None:
            return None
        return Last(Position(int(row[0]), row[1]), row[2], row[3])

    async def position_of(self, db: Database, table: str, column: str, number: int) -> Position:
        row = await db.fetchone(f"SELECT xact_id::text FROM {table} WHERE {column} = ?", (number,))
        if row is None:  # read a moment ago, below the horizon: only a prune could remove it
            raise RuntimeError(f"{table} row {number} vanished while the statistics read it")
        return Position(int(row[0]), number)


CommitOrder = _Numbers | _Transactions


def commit_order(dialect: str) -> CommitOrder:
    return _Transactions() if dialect == "postgres" else _Numbers()
