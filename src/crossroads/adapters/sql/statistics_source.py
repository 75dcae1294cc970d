"""The hub's store read for the statistics warehouse, in its own order, as columns.

Declarations by their id (the DmfA wages, DIMONA periods and social-risk declarations each one
established: a replaced record comes again under the later declaration's id), exchanges by audit
sequence, mutation deliveries by outbox sequence up to the first one still on its way. The
identifying columns are handed over as the store holds them (an INSS, a subject key); the
extraction service pseudonymises them before the warehouse sees them.
"""

from __future__ import annotations

import orjson

from ...services.ports import Columns, SourceBatch, StatisticsSource
from .database import Database

_NEVER = 1 << 62


def _columns(names: list[str], rows) -> Columns:
    if not rows:
        return {name: [] for name in names}
    return {name: list(values) for name, values in zip(names, zip(*rows, strict=True), strict=True)}


class SqlStatisticsSource(StatisticsSource):
    def __init__(self, db: Database) -> None:
        self._db = db
        self._committees: dict[str, str] = {}  # the joint committees' JSON lists repeat a lot

    async def read(self, stream: str, after: int, limit: int) -> SourceBatch | None:
        if stream == "declarations":
            return await self._declarations(after, limit)
        if stream == "exchanges":
            return await self._exchanges(after, limit)
        if stream == "deliveries":
            return await self._deliveries(after, limit)
        raise ValueError(f"no stream {stream!r}")

    async def _declarations(self, after: int, limit: int) -> SourceBatch | None:
        row = await self._db.fetchone(
            "SELECT MAX(id) FROM (SELECT id FROM declarations WHERE id > ? ORDER BY id LIMIT ?) d",
            (after, limit),
        )
        if row is None or row[0] is None:
            return None
        last = row[0]
        wages = await self._db.fetchall(
            "SELECT declaration_id, quarter, employer, inss, worker_code, gross, days,"
            " joint_committees FROM quarterly_wages"
            " WHERE declaration_id > ? AND declaration_id <= ?",
            (after, last),
        )
        committees = self._committees
        wage_columns = _columns(
            ["declaration_id", "quarter", "employer", "inss", "worker_code", "gross", "days", "jc"],
            wages,
        )
        first = []
        for text in wage_columns.pop("jc"):
            found = committees.get(text)
            if found is None:
                listed = orjson.loads(text)
                found = committees[text] = str(listed[0]) if listed else "-"
            first.append(found)
        wage_columns["joint_committee"] = first
        periods = await self._db.fetchall(
            "SELECT d.id, p.id, p.employer, p.inss, p.worker_type, p.joint_committee,"
            " p.start_date, p.end_date, p.status FROM declarations d"
            " JOIN dimona_periods p ON p.id = d.period_id WHERE d.id > ? AND d.id <= ?",
            (after, last),
        )
        risks = await self._db.fetchall(
            "SELECT id, employer, inss, form, status, received_at_ms FROM declarations"
            " WHERE id > ? AND id <= ? AND kind = 'social-risk'",
            (after, last),
        )
        tables = {
            "wages": wage_columns,
            "periods": _columns(
                [
                    "declaration_id",
                    "period_id",
                    "employer",
                    "inss",
                    "worker_type",
                    "joint_committee",
                    "start_date",
                    "end_date",
                    "status",
                ],
                periods,
            ),
            "social_risks": _columns(
                ["declaration_id", "employer", "inss", "scenario", "status", "at_ms"], risks
            ),
        }
        return SourceBatch(tables, last, len(wages) + len(periods) + len(risks))

    async def _exchanges(self, after: int, limit: int) -> SourceBatch | None:
        rows = await self._db.fetchall(
            "SELECT seq, record FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
        )
        if not rows:
            return None
        names = ["seq", "at_ms", "consumer", "service", "purpose", "outcome", "subject_hex"]
        out: Columns = {name: [] for name in [*names, "latency_us"]}
        loads = orjson.loads
        for seq, record in rows:
            body = loads(record)
            if body.get("kind") != "exchange":
                continue
            out["seq"].append(seq)
            for name in names[1:-1]:
                out[name].append(body.get(name))
            out["subject_hex"].append(body.get("subject_hash"))
            out["latency_us"].append(body.get("latency_us"))
        return SourceBatch({"exchanges": out}, rows[-1][0], len(out["seq"]))

    async def _deliveries(self, after: int, limit: int) -> SourceBatch | None:
        pending = await self._db.fetchone(
            "SELECT MIN(seq) FROM deliveries"
            " WHERE seq > ? AND acked_at_ms IS NULL AND dead_at_ms IS NULL",
            (after,),
        )
        before = _NEVER if pending is None or pending[0] is None else pending[0]
        rows = await self._db.fetchall(
            "SELECT d.seq, COALESCE(s.institution, '-'), m.mutation_type, m.published_at_ms,"
            " d.acked_at_ms, d.dead_at_ms, d.subject_key FROM deliveries d"
            " JOIN mutations m ON m.publisher = d.publisher AND m.id = d.mutation_id"
            " LEFT JOIN subscriptions s ON s.id = d.subscription"
            " WHERE d.seq > ? AND d.seq < ? ORDER BY d.seq LIMIT ?",
            (after, before, limit),
        )
        if not rows:
            return None
        names = [
            "seq",
            "institution",
            "mutation_type",
            "published_at_ms",
            "acked_at_ms",
            "dead_at_ms",
            "subject_key",
        ]
        columns = _columns(names, rows)
        columns["subject_key"] = [bytes(k) for k in columns["subject_key"]]
        return SourceBatch({"deliveries": columns}, rows[-1][0], len(rows))

    async def directory(self) -> Columns:
        rows = await self._db.fetchall(
            "SELECT subject_key, institution, capacity, phase, valid_from, valid_to"
            " FROM integrations"
        )
        columns = _columns(
            ["subject_key", "institution", "capacity", "phase", "valid_from", "valid_to"], rows
        )
        columns["subject_key"] = [bytes(k) for k in columns["subject_key"]]
        return columns
