"""Citizens' reports of wrong data in SQL (SQLite and PostgreSQL alike)."""

from __future__ import annotations

import zlib
from dataclasses import replace

from ...domain.data_reports import DataReport
from ...services.ports.data_reports import DataReportStore
from .database import Database

_PERSON_LOCK = 0x43524F53_52000000  # "CROSR": + a hash of the person; see add
_COLUMNS = (
    "id, source, service, subject, subject_hash, message, received_at_ms, closed_at_ms, answer"
)


def _report(row) -> DataReport:
    return DataReport(*row)


class SqlDataReports(DataReportStore):
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, report: DataReport, open_limit: int) -> DataReport | None:
        # One person's reports are added one after the other (SQLite's single writer; on
        # PostgreSQL an advisory lock on the person's hash), so that two at once do not both
        # find room under the bound.
        async with self._db.transaction() as tx:
            if self._db.dialect == "postgres":
                key = _PERSON_LOCK + (zlib.crc32(report.subject_hash.encode()) & 0xFFFFFF)
                await tx.execute("SELECT pg_advisory_xact_lock(?)", (key,))
            (held,) = await tx.fetchone(
                "SELECT COUNT(*) FROM data_reports WHERE subject_hash = ? AND service = ?"
                " AND source = ? AND closed_at_ms IS NULL",
                (report.subject_hash, report.service, report.source),
            )
            if held >= open_limit:
                return None
            row = await tx.fetchone(
                "INSERT INTO data_reports (source, service, subject, subject_hash, message,"
                " received_at_ms) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    report.source,
                    report.service,
                    report.subject,
                    report.subject_hash,
                    report.message,
                    report.received_at_ms,
                ),
            )
        return replace(report, id=row[0])

    async def of_source(self, source: str, after: int, limit: int) -> list[DataReport]:
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM data_reports WHERE source = ? AND id > ? ORDER BY id LIMIT ?",
            (source, after, limit),
        )
        return [_report(r) for r in rows]

    async def of_subject(self, subject_hash: str, limit: int) -> list[DataReport]:
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM data_reports WHERE subject_hash = ? ORDER BY id DESC LIMIT ?",
            (subject_hash, limit),
        )
        return [_report(r) for r in rows]

    async def close(self, report_id: int, source: str, at_ms: int, answer: str) -> bool:
        async with self._db.transaction() as tx:
            changed = await tx.execute(
                "UPDATE data_reports SET closed_at_ms = ?, answer = ?"
                " WHERE id = ? AND source = ? AND closed_at_ms IS NULL",
                (at_ms, answer, report_id, source),
            )
        return changed == 1
