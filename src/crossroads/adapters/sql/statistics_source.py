"""The hub's store read for the statistics warehouse, in its own order, as Arrow columns.

Declarations by their id (the DmfA wages, DIMONA periods and social-risk declarations each one
established: a replaced record comes again under the later declaration's id), exchanges by audit
sequence, mutation deliveries by their changes (migration 0025: each one acknowledged, dead,
replayed or dropped draws a new number, so a dead letter replayed or dropped since it was read
comes again); on PostgreSQL by their writing (or changing) transaction first, below the oldest
one still running (commit_order.py), so that no position passes a row yet to commit. Rows move
as Arrow columns (arrow_reads.py): from PostgreSQL without a Python object each, from SQLite
as one tuple a row first (why: arrow_reads.py). The exchanges' audit records
are JSON: an in-memory DuckDB, private to this reader and holding nothing past the batch, reads
their fields in bulk. The identifying columns are handed over as the store holds them (an INSS,
a subject key), as `Coded` columns (each distinct value once, with per-row indices); the
extraction service pseudonymises them before the warehouse sees them. The rights engine's
decisions are read by their changes (stored, then answered), in commit order too: each change
draws a new number (migration 0023), so an answer comes after its decision, as a later row of
the same (pseudonymised) decision.
"""

from __future__ import annotations

import asyncio
import threading

import duckdb
import pyarrow
import pyarrow.compute

from ...services.ports import Coded, Columns, Position, SourceBatch, StatisticsSource
from .arrow_reads import ArrowReads
from .commit_order import commit_order
from .database import Database

_IDENTIFYING = frozenset({"inss", "subject_key", "subject_hex", "employer", "decision_id"})

_TEXT, _INT, _BLOB = pyarrow.string(), pyarrow.int64(), pyarrow.binary()


def _schema(*fields: tuple[str, pyarrow.DataType]) -> pyarrow.Schema:
    return pyarrow.schema(list(fields))


_WAGES = _schema(
    ("declaration_id", _INT),
    ("quarter", pyarrow.int32()),
    ("employer", _TEXT),
    ("inss", _TEXT),
    ("worker_code", _TEXT),
    ("gross", _INT),
    ("days", pyarrow.int32()),
    ("joint_committee", _TEXT),
)
_PERIODS = _schema(
    ("declaration_id", _INT),
    ("period_id", _INT),
    ("employer", _TEXT),
    ("inss", _TEXT),
    ("worker_type", _TEXT),
    ("joint_committee", _TEXT),
    ("start_date", _TEXT),
    ("end_date", _TEXT),
    ("status", _TEXT),
)
_RISKS = _schema(
    ("declaration_id", _INT),
    ("employer", _TEXT),
    ("inss", _TEXT),
    ("scenario", _TEXT),
    ("status", _TEXT),
    ("at_ms", _INT),
)
_AUDIT = _schema(("seq", _INT), ("record", _TEXT))
_DELIVERIES = _schema(
    ("xact", _INT),
    ("changed", _INT),
    ("seq", _INT),
    ("institution", _TEXT),
    ("mutation_type", _TEXT),
    ("published_at_ms", _INT),
    ("acked_at_ms", _INT),
    ("dead_at_ms", _INT),
    ("subject_key", _BLOB),
)
_DIRECTORY = _schema(
    ("subject_key", _BLOB),
    ("institution", _TEXT),
    ("capacity", _TEXT),
    ("phase", pyarrow.int32()),
    ("valid_from", pyarrow.int32()),
    ("valid_to", pyarrow.int32()),
)
_RIGHTS = _schema(
    ("xact", _INT),
    ("changed", _INT),
    ("decision_id", _TEXT),
    ("subject_key", _BLOB),
    ("right_code", _TEXT),
    ("change", _TEXT),
    ("status", _TEXT),
    ("origin", _TEXT),
    ("age_group", _TEXT),
    ("decided_at_ms", _INT),
)
# The exchange record's fields (domain/audit.py), read once per record by DuckDB's JSON reader;
# a field of another type in some other kind of record reads as NULL, and only exchanges stay.
_EXCHANGE_FIELDS = (
    '{"kind": "VARCHAR", "at_ms": "BIGINT", "consumer": "VARCHAR", "service": "VARCHAR",'
    ' "purpose": "VARCHAR", "outcome": "VARCHAR", "subject_hash": "VARCHAR",'
    ' "latency_us": "BIGINT"}'
)
_EXCHANGES = f"""
    SELECT seq, r.at_ms, r.consumer, r.service, r.purpose, r.outcome,
           r.subject_hash AS subject_hex, r.latency_us
    FROM (SELECT seq, from_json(record, '{_EXCHANGE_FIELDS}') AS r FROM audit_batch)
    WHERE r.kind = 'exchange'
"""


def _columns(table: pyarrow.Table) -> Columns:
    """Every column as an Arrow array; the identifying ones as `Coded` (distinct values).
    Called in a worker thread: encoding a batch's persons and making their distinct values
    Python strings is some 60 ms a batch of 200,000, off the event loop."""
    out: Columns = {}
    for name in table.column_names:
        column = table.column(name).combine_chunks()
        if name in _IDENTIFYING:
            encoded = pyarrow.compute.dictionary_encode(column)
            out[name] = Coded(encoded.dictionary.to_pylist(), encoded.indices)
        else:
            out[name] = column
    return out


class SqlStatisticsSource(StatisticsSource):
    def __init__(self, db: Database, audit_db: Database | None = None) -> None:
        """`audit_db`: where the audit log is, when not in `db` (a SQLite hub's audit file)."""
        self._db = db
        self._reads = ArrowReads(db)
        self._audit_db = db if audit_db is None else audit_db
        self._audit_reads = self._reads if audit_db is None else ArrowReads(audit_db)
        self._order = commit_order(db.dialect)
        self._json: duckdb.DuckDBPyConnection | None = None  # opened by the first exchanges read
        self._json_lock = threading.Lock()

    async def read(self, stream: str, after: Position, limit: int) -> SourceBatch | None:
        if stream == "declarations":
            return await self._declarations(after, limit)
        if stream == "exchanges":
            return await self._exchanges(after, limit)
        if stream == "deliveries":
            return await self._deliveries(after, limit)
        if stream == "rights":
            return await self._rights(after, limit)
        raise ValueError(f"no stream {stream!r}")

    async def _declarations(self, after: Position, limit: int) -> SourceBatch | None:
        # The batch's last declaration first: the three reads below then take the same rows,
        # all of them committed for good (below the horizon on PostgreSQL; see commit_order.py).
        last = await self._order.last_of_next(self._db, "declarations", "id", after, limit)
        if last is None:
            return None
        within, bounds = self._order.between("d", "id", after, last)
        first_committee = (
            "CAST(json_extract(w.joint_committees, '$[0]') AS TEXT)"
            if self._reads.dialect == "sqlite"
            else "(w.joint_committees::jsonb ->> 0)"
        )
        # The wages by their index on the declaration id, each only if its declaration is in
        # the batch.
        member, member_params = self._order.members(
            "w.declaration_id", "declarations", "id", after, last
        )
        wages = await self._reads.table(
            "SELECT w.declaration_id, w.quarter, w.employer, w.inss, w.worker_code, w.gross,"
            f" w.days, {first_committee} FROM quarterly_wages w WHERE {member}",
            member_params,
            _WAGES,
        )
        periods = await self._reads.table(
            "SELECT d.id, p.id, p.employer, p.inss, p.worker_type, p.joint_committee,"
            " p.start_date, p.end_date, p.status FROM declarations d"
            f" JOIN dimona_periods p ON p.id = d.period_id WHERE {within}",
            bounds,
            _PERIODS,
        )
        risks = await self._reads.table(
            "SELECT d.id, d.employer, d.inss, d.form, d.status, d.received_at_ms"
            f" FROM declarations d WHERE {within} AND d.kind = 'social-risk'",
            bounds,
            _RISKS,
        )
        tables = await asyncio.to_thread(
            lambda: {
                "wages": _columns(wages),
                "periods": _columns(periods),
                "social_risks": _columns(risks),
            }
        )
        return SourceBatch(
            tables, last.position, wages.num_rows + periods.num_rows + risks.num_rows
        )

    async def _exchanges(self, after: Position, limit: int) -> SourceBatch | None:
        text = (
            "CAST(record AS TEXT)"
            if self._reads.dialect == "sqlite"
            else ("convert_from(record, 'UTF8')")
        )
        after_sql, after_params = self._order.after(
            "seq", after, await self._order.horizon(self._audit_db)
        )
        audit = await self._audit_reads.table(
            f"SELECT seq, {text} FROM audit_log WHERE {after_sql}"
            f" ORDER BY {self._order.ordering('seq')} LIMIT ?",
            (*after_params, limit),
            _AUDIT,
        )
        if audit.num_rows == 0:
            return None
        exchanges = await asyncio.to_thread(self._parse, audit)
        reached = await self._order.position_of(
            self._audit_db, "audit_log", "seq", audit.column("seq")[audit.num_rows - 1].as_py()
        )
        columns = await asyncio.to_thread(_columns, exchanges)
        return SourceBatch({"exchanges": columns}, reached, exchanges.num_rows)

    def _parse(self, audit: pyarrow.Table) -> pyarrow.Table:
        with self._json_lock:
            if self._json is None:
                self._json = duckdb.connect(":memory:")
            self._json.register("audit_batch", audit)
            try:
                return self._json.sql(_EXCHANGES).to_arrow_table()
            finally:
                self._json.unregister("audit_batch")

    async def _deliveries(self, after: Position, limit: int) -> SourceBatch | None:
        # The changes, not the outbox's order: a delivery is read when it settles (acknowledged
        # or dead), and again at each later change (a dead letter replayed, then delivered or
        # dead again; dropped), with its state as it then stands. One still waiting for its
        # first push or acknowledgement has no change yet, and holds nothing back. The position
        # is the last row's, read in the same statement, as for the rights decisions.
        xact = "d.xact_id::text::bigint" if self._reads.dialect == "postgres" else "0"
        after_sql, after_params = self._order.after(
            "d.changed", after, await self._order.horizon(self._db)
        )
        deliveries = await self._reads.table(
            f"SELECT {xact}, d.changed, d.seq, COALESCE(s.institution, '-'), m.mutation_type,"
            " m.published_at_ms, d.acked_at_ms, d.dead_at_ms, d.subject_key FROM deliveries d"
            " JOIN mutations m ON m.publisher = d.publisher AND m.id = d.mutation_id"
            " LEFT JOIN subscriptions s ON s.id = d.subscription"
            f" WHERE d.changed IS NOT NULL AND {after_sql}"
            f" ORDER BY {self._order.ordering('d.changed')} LIMIT ?",
            (*after_params, limit),
            _DELIVERIES,
        )
        if deliveries.num_rows == 0:
            return None
        last = deliveries.num_rows - 1
        reached = Position(
            deliveries.column("xact")[last].as_py(), deliveries.column("changed")[last].as_py()
        )
        columns = await asyncio.to_thread(_columns, deliveries.drop_columns(["xact"]))
        return SourceBatch({"deliveries": columns}, reached, deliveries.num_rows)

    async def _rights(self, after: Position, limit: int) -> SourceBatch | None:
        # Each row carries its own transaction: the position is the last row's, read in the
        # same statement (a decision answered since would not be found at its old number).
        # Never the decision's body nor the person's number: the key, which becomes the
        # warehouse's pseudonym, and the few columns the mart counts.
        xact = "xact_id::text::bigint" if self._reads.dialect == "postgres" else "0"
        after_sql, after_params = self._order.after(
            "changed", after, await self._order.horizon(self._db)
        )
        changes = await self._reads.table(
            f"SELECT {xact}, changed, id, subject_key, right_code, change, status, origin,"
            f" age_group, decided_at_ms FROM rights_decisions WHERE {after_sql}"
            f" ORDER BY {self._order.ordering('changed')} LIMIT ?",
            (*after_params, limit),
            _RIGHTS,
        )
        if changes.num_rows == 0:
            return None
        last = changes.num_rows - 1
        reached = Position(
            changes.column("xact")[last].as_py(), changes.column("changed")[last].as_py()
        )
        columns = await asyncio.to_thread(_columns, changes.drop_columns(["xact"]))
        return SourceBatch({"rights": columns}, reached, changes.num_rows)

    async def directory(self) -> Columns:
        return _columns(
            await self._reads.table(
                "SELECT subject_key, institution, capacity, phase, valid_from, valid_to"
                " FROM integrations",
                (),
                _DIRECTORY,
            )
        )

    def close(self) -> None:
        self._reads.close()
        self._audit_reads.close()
        with self._json_lock:
            if self._json is not None:
                self._json.close()
                self._json = None
