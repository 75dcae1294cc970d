"""The reference directory over SQL: one row per merged period."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from operator import itemgetter

from ...domain.directory import (
    OPEN_END,
    Holding,
    Integration,
    IntegrationChange,
    Phase,
    periods_after,
)
from ...domain.periods import Period
from ...services.ports import DirectoryRepository
from .among import among
from .coalesce import Coalescer
from .database import Database, Row, Transaction

_LOAD_BATCH = 500  # keys per SELECT … IN (…): well under SQLite's and psycopg's parameter limits

_PHASES = {Phase.PROVISIONAL: 1, Phase.DEFINITIVE: 2}
_PHASE_OF = {number: phase for phase, number in _PHASES.items()}
_COLUMNS = "subject_key, institution, capacity, phase, valid_from, valid_to"
_COLUMN_NAMES = tuple(_COLUMNS.split(", "))
_PRIMARY_KEY = itemgetter(0, 1, 2, 3, 4)  # of an inserted row: valid_to, last, may be None


def _integration(row: Row) -> Integration:
    end = None if row[5] is None else date.fromordinal(row[5])
    return Integration(
        subject_key=bytes(row[0]),
        institution=row[1],
        capacity=row[2],
        phase=_PHASE_OF[row[3]],
        period=Period(date.fromordinal(row[4]), end),
    )


class SqlDirectory(DirectoryRepository):
    def __init__(self, db: Database) -> None:
        self._db = db
        # Every exchange asks `held_by` once. SQLite answers inline in microseconds; over
        # PostgreSQL the concurrent asks of a process share one round trip (see coalesce.py).
        self._held: Coalescer[tuple[bytes, str], list[Integration]] | None = (
            Coalescer(self._held_by_many, list) if db.dialect == "postgres" else None
        )

    async def apply(self, changes: list[IntegrationChange]) -> list[int]:
        """Apply a batch in one transaction: read every touched key once, compute the final periods
        in memory with the domain's rules, then write only the difference, in bulk."""
        unheld: list[int] = []
        async with self._db.transaction() as tx:
            original = await self._load(tx, {c.subject_key for c in changes})
            final: dict[tuple, Collection[tuple[Phase, Period]]] = {}
            for position, change in enumerate(changes):
                key = (change.subject_key, change.institution, change.capacity)
                if change.op != "integrate" and not final.get(key, original.get(key)):
                    unheld.append(position)
                if key in final:
                    final[key] = periods_after(set(final[key]), change)
                elif key not in original and change.op == "integrate" and change.period is not None:
                    # The common case of a first load: a new key's first integration is its only
                    # row. A tuple, not a set: hashing enums and dataclasses is what this loop
                    # spent.
                    final[key] = ((change.phase, change.period),)
                else:
                    final[key] = periods_after(set(original.get(key, ())), change)
            deletes, inserts = [], []
            for key, rows in final.items():
                before = original.get(key)
                if before:
                    rows = set(rows)
                    deletes += [
                        (*key, _PHASES[phase], period.start.toordinal())
                        for phase, period in before - rows
                    ]
                    rows = rows - before
                inserts += [
                    (
                        *key,
                        _PHASES[phase],
                        period.start.toordinal(),
                        None if period.end is None else period.end.toordinal(),
                    )
                    for phase, period in rows
                ]
            if deletes:
                await tx.executemany(
                    "DELETE FROM integrations WHERE subject_key = ? AND institution = ?"
                    " AND capacity = ? AND phase = ? AND valid_from = ?",
                    deletes,
                )
            if inserts:
                # In key order, each B-tree page is visited once per batch rather than at random.
                inserts.sort(key=_PRIMARY_KEY)
                await tx.insert_rows("integrations", _COLUMN_NAMES, inserts)
        return unheld

    @staticmethod
    async def _load(tx: Transaction, keys: set[bytes]) -> dict[tuple, set[tuple[Phase, Period]]]:
        found: dict[tuple, set[tuple[Phase, Period]]] = {}
        ordered = list(keys)
        for at in range(0, len(ordered), _LOAD_BATCH):
            group = ordered[at : at + _LOAD_BATCH]
            rows = await tx.fetchall(
                f"SELECT {_COLUMNS} FROM integrations"
                f" WHERE subject_key IN ({', '.join('?' for _ in group)})",
                group,
            )
            for row in rows:
                integration = _integration(row)
                key = (integration.subject_key, integration.institution, integration.capacity)
                found.setdefault(key, set()).add((integration.phase, integration.period))
        return found

    async def held_by(self, subject_key: bytes, institution: str) -> list[Integration]:
        if self._held is not None:
            return await self._held.get((subject_key, institution))
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM integrations WHERE subject_key = ? AND institution = ?",
            (subject_key, institution),
        )
        return [_integration(r) for r in rows]

    async def _held_by_many(
        self, pairs: list[tuple[bytes, str]]
    ) -> dict[tuple[bytes, str], list[Integration]]:
        # PostgreSQL only (the coalescer's rounds). `integrations` is hash-partitioned by
        # subject (migration 0001): a statement on it, with its values as parameters, was planned
        # again at every call, and the planning cost more than the read (migration 0039). The
        # function reads each pair by the primary key along a plan its connection keeps. The
        # coalescer asks each pair once a round (a pair asked twice would have its rows twice).
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM crossroads_held_by(%b::bytea[], %b::text[])",
            ([key for key, _ in pairs], [institution for _, institution in pairs]),
        )
        found: dict[tuple[bytes, str], list[Integration]] = {}
        for row in rows:
            integration = _integration(row)
            found.setdefault((integration.subject_key, integration.institution), []).append(
                integration
            )
        return found

    async def holders(self, subject_key: bytes, capacity: str | None = None) -> list[Integration]:
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM integrations WHERE subject_key = ?"
            " ORDER BY institution, capacity, valid_from",
            (subject_key,),
        )
        found = [_integration(r) for r in rows]
        return [i for i in found if capacity is None or i.capacity == capacity]

    async def holders_of(self, subject_keys: list[bytes]) -> dict[bytes, list[Holding]]:
        found: dict[bytes, list[Holding]] = {}
        wanted = list(dict.fromkeys(subject_keys))
        for condition, values in among(self._db.dialect, "subject_key", wanted, "bytea"):
            # The row is the holding's fields in its order (phase 2 is definitive, an open end
            # the last ordinal), so that each is a tuple made in one call, not an `Integration`.
            rows = await self._db.fetchall(
                "SELECT subject_key, institution, capacity, phase = 2, valid_from,"
                f" COALESCE(valid_to, {OPEN_END}) FROM integrations WHERE {condition}",
                values,
                fresh_plan=True,  # the directory grows from empty by imports while the hub runs
            )
            make = Holding._make
            for row in rows:
                found.setdefault(bytes(row[0]), []).append(make(row[1:]))
        return found

    async def count(self) -> int:
        row = await self._db.fetchone("SELECT COUNT(*) FROM integrations")
        return row[0] if row else 0
