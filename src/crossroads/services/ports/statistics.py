"""The statistics warehouse's ports: the hub's stores read in their own order, the warehouse
the extracts go to, the analysts' privacy budgets, and the noise of differential privacy."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...domain.statistics.marts import Mart
from ...domain.statistics.suppression import CubeCell, Decided, Key

# A table as columns of equal length, in bulk, never row by row: each column a list, a `Coded`
# column, or a column the adapters pass through untouched (an Arrow array, opaque here).
Columns = dict[str, Any]


@dataclass(frozen=True)
class Coded:
    """A column given as its distinct values and, per row, the index of its row's value.

    The identifying columns come so from the source: the extraction replaces each distinct
    value by its pseudonym once (a person named in a thousand rows is hashed once) and never
    touches the rows; `codes` is opaque to the services (the adapters' Arrow indices, nulls
    where the row has no value)."""

    values: list[Any]
    codes: Any


def as_list(column: Any) -> list[Any]:
    """A column's values row by row, for the few services that read a source's rows themselves
    (the portal's activity tally): a list as it is, a `Coded` column decoded, an adapter's
    column (an Arrow array) through its own `to_pylist`."""
    if isinstance(column, list):
        return column
    if isinstance(column, Coded):
        codes = column.codes if isinstance(column.codes, list) else column.codes.to_pylist()
        return [None if code is None else column.values[code] for code in codes]
    return list(column.to_pylist())


@dataclass(frozen=True, order=True)
class Position:
    """How far a stream was read: past every row at or before it in the store's commit order,
    rows going by (`transaction`, `number`).

    `number` is the last row's own number (declaration id, audit sequence, or the change number
    of a delivery or a rights decision).
    `transaction` is, on PostgreSQL, the transaction (its xid8) that wrote that row: there a
    number is drawn when a row is inserted, not when it commits, so only the order of the
    writing transactions, read below the oldest one still running, never passes a row that
    may still commit. It is 0 where the number alone is in commit order: SQLite (one writer at
    a time), and the PostgreSQL rows written before that column (migrations 0020, 0023, 0025)."""

    transaction: int = 0
    number: int = 0


@dataclass(frozen=True)
class SourceBatch:
    """Records of one stream after a position: its tables' new rows and the position reached.

    Columns that identify someone are named by what they hold (`inss`, `subject_key`,
    `subject_hex`, `employer`, `decision_id`), each a list or a `Coded` column, so that the
    extraction can pseudonymise every one of them before anything reaches the warehouse."""

    tables: dict[str, Columns]
    position: Position  # the last row read, in the store's commit order
    records: int


class StatisticsSource(abc.ABC):
    """The hub's stores, read for the warehouse in the stores' own order."""

    streams: tuple[str, ...] = ("declarations", "exchanges", "deliveries", "rights")

    @abc.abstractmethod
    async def read(self, stream: str, after: Position, limit: int) -> SourceBatch | None:
        """Up to `limit` records of `stream` past position `after`, None when there are none.
        Only rows that can no longer change place are read: a position never passes a row
        that may still commit before it (a PostgreSQL transaction still running). A delivery
        is read at each change of its state (settled, replayed, dropped), not while it first
        waits."""

    @abc.abstractmethod
    async def directory(self) -> Columns:
        """The reference directory as it stands (a snapshot: its entries carry their periods)."""


class Warehouse(abc.ABC):
    """Pseudonymised extracts and the marts built from them."""

    @abc.abstractmethod
    async def position(self, stream: str) -> Position:
        """The source position the warehouse holds `stream` up to (`Position()` before the
        first load);
        the extraction's own reading, which makes this process the one writing."""

    @abc.abstractmethod
    async def load(self, stream: str, tables: dict[str, Columns], position: Position) -> None:
        """Append the rows and move the stream's position to `position`, in one transaction:
        after a crash, the warehouse holds a batch entirely with its position, or neither."""

    @abc.abstractmethod
    async def replace(self, table: str, columns: Columns) -> None:
        """Replace a snapshot table (the directory) as a whole, in one transaction."""

    @abc.abstractmethod
    async def refresh(self, threshold: int) -> float:
        """Rebuild from the extracts (the latest version of each record) every mart whose
        extract changed since the mart was last built, even by a run that crashed before, and
        decide the suppression lattice of each rebuilt mart at `threshold` (of every mart when
        the threshold changed), stored with the marts so that every reader reads the one
        decision (domain/statistics/suppression.py). The seconds spent on the lattices."""

    @abc.abstractmethod
    async def release(self) -> None:
        """Let another process write: an extraction holds the warehouse from its first write
        to this (every process may read the marts meanwhile)."""

    @abc.abstractmethod
    async def marts_positions(self) -> dict[str, int]:
        """The source positions the marts were last built up to, by stream, as the last row's
        number (what analysts and publications read; a stream never extracted is absent)."""

    @abc.abstractmethod
    async def version(self) -> int:
        """A number that changes whenever the marts do (for caches of decided lattices)."""

    @abc.abstractmethod
    async def cube(self, mart: Mart, threshold: int) -> list[CubeCell]:
        """Every cell of the mart's lattice (as GROUP BY CUBE gives it): distinct persons
        (exact below `threshold`, else a lower bound at or above it: all the suppression rule
        reads), the count of units, and the sum of each measure."""

    @abc.abstractmethod
    async def lattice(self, mart: Mart) -> tuple[int, dict[Key, Decided]] | None:
        """The mart's suppression lattice as `refresh` decided it with the marts being read, and
        the threshold it was decided at; None when none was stored."""

    @abc.abstractmethod
    async def aggregate(
        self, mart: Mart, measure: str | None, filters: dict[str, str], contributions: int
    ) -> tuple[int, int]:
        """(count, sum of `measure` clamped to [0, upper]) over the units matching `filters`,
        keeping at most `contributions` units per person: the bounded query under a
        differentially private answer."""

    @abc.abstractmethod
    async def export(self, folder: Path) -> list[Path]:
        """Write every mart as Parquet into `folder`; the files written."""

    @abc.abstractmethod
    async def close(self) -> None: ...


class PrivacyBudgets(abc.ABC):
    """What each analyst has spent of each project's privacy budget, in micro-epsilon."""

    @abc.abstractmethod
    async def spend(self, analyst: str, project: str, amount: int, limit: int, at_ms: int) -> int:
        """Add `amount` to the spent total if it stays within `limit`, atomically (two queries at
        once cannot both pass the last of a budget); the new total. Raises Refusal
        `privacy_budget_exhausted` and changes nothing when it would not."""

    @abc.abstractmethod
    async def spent(self, analyst: str, project: str) -> int: ...


@dataclass(frozen=True)
class Noisy:
    value: int
    scale: float  # of the (discrete) Laplace noise added
    bound: float  # |noise| ≤ bound with probability `confidence`
    confidence: float


class Noise(abc.ABC):
    @abc.abstractmethod
    def integer(self, value: int, sensitivity: int, epsilon: float) -> Noisy:
        """`value` with noise that makes it epsilon-differentially private for a query whose
        answer changes by at most `sensitivity` when one person's records are added or removed."""


class OpenData(abc.ABC):
    """The published statistics tables, as files anyone may download: per table a CSV, a
    Parquet file and a JSON file of metadata (docs/statistics.md)."""

    @abc.abstractmethod
    async def write(self, name: str, columns: Columns, metadata: dict[str, Any]) -> None:
        """Replace table `name`'s three files; a reader sees the old files or the new ones."""

    @abc.abstractmethod
    async def tables(self) -> list[dict[str, Any]]:
        """The metadata of every published table, by name."""

    @abc.abstractmethod
    async def rows(self, name: str) -> list[dict[str, str]]:
        """The published rows of table `name`, as its CSV holds them (empty cells: "")."""

    @abc.abstractmethod
    def file(self, filename: str) -> Path | None:
        """The published file of that name (`<table>.csv|parquet|json`), None when there is none."""
