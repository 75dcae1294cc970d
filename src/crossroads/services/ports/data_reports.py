"""Port: where citizens' reports of wrong data wait for their authentic source."""

from __future__ import annotations

import abc

from ...domain.data_reports import DataReport


class DataReportStore(abc.ABC):
    @abc.abstractmethod
    async def add(self, report: DataReport, open_limit: int) -> DataReport | None:
        """The report as stored, with its id; None (nothing stored) when the person already has
        `open_limit` open reports of that service with that source. Two added at once never both
        pass the bound."""

    @abc.abstractmethod
    async def of_source(self, source: str, after: int, limit: int) -> list[DataReport]:
        """The source's reports with ids above `after`, oldest first."""

    @abc.abstractmethod
    async def of_subject(self, subject_hash: str, limit: int) -> list[DataReport]:
        """The person's reports, newest first."""

    @abc.abstractmethod
    async def close(self, report_id: int, source: str, at_ms: int, answer: str) -> bool:
        """Close an open report of `source` with its answer; False when there is none such."""
