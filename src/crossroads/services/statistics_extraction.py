"""Extraction into the statistics warehouse: incremental, resumable, pseudonymised, audited.

Each stream is read from the hub's store in the store's own order past the position the
warehouse holds, one batch at a time. Every identifying column is replaced by a pseudonym
(domain/statistics/pseudonyms.py) before the batch is handed over, and the warehouse commits the
batch together with its new position: a crash loses at most the batch under way, which the next
run reads again. Each stream's extraction is recorded in the audit log as a use of data (kind
`statistics`, action `extract`, with the purpose and legal basis the operator configured) before
its first batch moves, and again with the position reached when it is done; a failure to record
stops the extraction. Not one record per batch: the exchanges are read from that same audit log,
and a record per batch read would be a batch more to read, without end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..domain.audit import AuditRecord
from ..domain.statistics.pseudonyms import Pseudonymiser
from ..domain.subjects import SubjectHasher
from .clock import Clock
from .ports import (
    AuditLog,
    Coded,
    Columns,
    Position,
    StatisticsSource,
    Warehouse,
)

# What may identify someone, as the source names it; none of these reaches the warehouse.
IDENTIFYING = ("inss", "subject_key", "subject_hex", "employer", "decision_id")
# The warehouse's column for each: a person's identifiers all become `person`.
_PSEUDONYM_COLUMN = {"employer": "employer", "decision_id": "decision"}
_MEMO_LIMIT = 4_000_000  # pseudonyms kept during one run (about 0.5 GB at most)


@dataclass(frozen=True)
class ExtractionBasis:
    """Why the hub's records are used for statistics: stated in every audit record of it."""

    purpose: str
    legal_basis: str


@dataclass
class ExtractionReport:
    records: dict[str, int] = field(default_factory=dict)
    positions: dict[str, int] = field(default_factory=dict)  # the last row's number
    lattice_seconds: float = 0.0  # deciding the rebuilt marts' suppression lattices

    @property
    def total(self) -> int:
        return sum(self.records.values())


class WarehouseExtraction:
    def __init__(
        self,
        source: StatisticsSource,
        warehouse: Warehouse,
        audit: AuditLog,
        clock: Clock,
        hasher: SubjectHasher,
        pseudonyms: Pseudonymiser,
        basis: ExtractionBasis,
        threshold: int,
        batch: int = 200_000,
        parquet: Path | None = None,
    ) -> None:
        """`threshold`: the suppression threshold each mart's lattice is decided at when its
        marts are rebuilt (the analysts' Protection.threshold). `parquet`: the folder every
        extract and mart is written to as Parquet after each run (for engines beyond one
        machine; docs/statistics.md), None for none."""
        self._source = source
        self._warehouse = warehouse
        self._audit = audit
        self._clock = clock
        self._hasher = hasher
        self._pseudonyms = pseudonyms
        self._basis = basis
        self._threshold = threshold
        self._batch = batch
        self._parquet = parquet

    async def positions(self) -> dict[str, int]:
        """How far the marts the analysts read go in each stream, as the number of the last row
        read (audit sequence, declaration id, change number; in commit order on
        PostgreSQL, so a lower number may come later); 0 for a stream never extracted."""
        built = await self._warehouse.marts_positions()
        return {stream: built.get(stream, 0) for stream in self._source.streams}

    async def run(self, max_batches: int | None = None) -> ExtractionReport:
        """Extract every stream up to the store's present, then rebuild the marts.
        `max_batches` stops each stream early (a test's way to leave work for a resumed run).
        The warehouse is this process's to write until the run ends, however it ends."""
        try:
            return await self._run(max_batches)
        finally:
            await self._warehouse.release()

    async def _run(self, max_batches: int | None) -> ExtractionReport:
        report = ExtractionReport()
        # Pseudonyms already computed in this run, by what they replace: a person comes back in
        # every batch, and each pseudonym costs two HMACs. Dropped with the run.
        memo: dict[tuple[str, Any], str] = {}
        for stream in self._source.streams:
            position = start = await self._warehouse.position(stream)
            await self._record(stream, "extract", start, None, None)
            report.records[stream] = 0
            batches = 0
            # The next batch is read while this one is loaded: the store's reader and DuckDB
            # each work in threads of their own. Reading ahead moves no position.
            ahead = asyncio.ensure_future(self._source.read(stream, position, self._batch))
            try:
                while max_batches is None or batches < max_batches:
                    batch = await ahead
                    if batch is None:
                        break
                    ahead = asyncio.ensure_future(
                        self._source.read(stream, batch.position, self._batch)
                    )
                    # In a thread: some 200 ms of HMACs and look-ups a batch, which would
                    # otherwise hold the hub's event loop (the read ahead and DuckDB's load
                    # run meanwhile). Only this thread touches `memo` until it is awaited.
                    tables = await asyncio.to_thread(self._pseudonymise_all, batch.tables, memo)
                    await self._warehouse.load(stream, tables, batch.position)
                    position = batch.position
                    report.records[stream] += batch.records
                    batches += 1
            finally:
                ahead.cancel()
                await asyncio.gather(ahead, return_exceptions=True)
            report.positions[stream] = position.number
            await self._record(stream, "extracted", start, position, report.records[stream])
        await self._record("directory", "extract", None, None, None)
        directory = await asyncio.to_thread(
            self._pseudonymise, await self._source.directory(), memo
        )
        await self._warehouse.replace("directory", directory)
        report.records["directory"] = _length(directory["person"])
        report.lattice_seconds = await self._warehouse.refresh(self._threshold)
        if self._parquet is not None:
            await self._warehouse.export(self._parquet)
        return report

    async def _record(
        self,
        stream: str,
        action: str,
        after: Position | None,
        reached: Position | None,
        records: int | None,
    ) -> None:
        await self._audit.append(
            AuditRecord(
                kind="statistics",
                at_ms=self._clock.now_ms(),
                outcome="ok",
                action=action,
                purpose=self._basis.purpose,
                target=stream,
                detail={
                    name: value
                    for name, value in (
                        ("legal_basis", self._basis.legal_basis),
                        ("after", _described(after)),
                        ("reached", _described(reached)),
                        ("records", records),
                    )
                    if value is not None
                },
            )
        )

    def _pseudonymise_all(
        self, tables: dict[str, Columns], memo: dict[tuple[str, Any], str]
    ) -> dict[str, Columns]:
        return {name: self._pseudonymise(columns, memo) for name, columns in tables.items()}

    def _pseudonymise(self, columns: Columns, memo: dict[tuple[str, Any], str]) -> Columns:
        out = {name: values for name, values in columns.items() if name not in IDENTIFYING}
        person, key = self._pseudonyms.person, self._hasher.key
        naming: dict[str, Callable[[Any], str]] = {
            "inss": lambda inss: person(key(inss)),
            "subject_key": person,
            "subject_hex": lambda hex_key: person(bytes.fromhex(hex_key)),
            "employer": self._pseudonyms.employer,
            "decision_id": self._pseudonyms.decision,
        }
        for name, pseudonym in naming.items():
            if name in columns:
                replaced = _replaced(columns[name], name, pseudonym, memo)
                out[_PSEUDONYM_COLUMN.get(name, "person")] = replaced
        if len(memo) > _MEMO_LIMIT:
            memo.clear()  # bounded: past it, pseudonyms are computed again
        return out


def _replaced(
    column: Coded | list[Any],
    kind: str,
    pseudonym: Callable[[Any], str],
    memo: dict[tuple[str, Any], str],
) -> Coded | list[Any]:
    """The column with each value replaced by its pseudonym, each distinct value hashed once."""

    def named(value: Any) -> str | None:
        if value is None:
            return None
        found = memo.get((kind, value))
        if found is None:
            found = memo[(kind, value)] = pseudonym(value)
        return found

    if isinstance(column, Coded):
        return Coded([named(v) for v in column.values], column.codes)
    distinct = {v: named(v) for v in set(column)}
    return list(map(distinct.__getitem__, column))


def _length(column: Coded | list[Any]) -> int:
    return len(column.codes) if isinstance(column, Coded) else len(column)


def _described(position: Position | None) -> int | list[int] | None:
    """A position as the audit record states it: the number, with its transaction first where
    the store orders by transaction (PostgreSQL)."""
    if position is None:
        return None
    return [position.transaction, position.number] if position.transaction else position.number
