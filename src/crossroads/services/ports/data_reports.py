"""Port: where citizens' reports of wrong data wait for their authentic source."""

from __future__ import annotations

import abc

from ...domain.data_reports import DataReport


class DataReportStore(abc.ABC):
    @abc.abstractmethod
    async def add(self, report: DataReport) -> DataReport:
        """The report as stored, with its id."""

    @abc.abstractmethod
    async def of_source(self, source: str, after: int, limit: int) -> list[DataReport]:
        """The source's reports with ids above `after`, oldest first."""

    @abc.abstractmethod
    async def of_subject(self, subject_hash: str, limit: int) -> list[DataReport]:
        """The person's reports, newest first."""

    @abc.abstractmethod
    async def close(self, report_id: int, source: str, at_ms: int, answer: str) -> bool:
        """Close an open report of `source` with its answer; False when there is none such."""
