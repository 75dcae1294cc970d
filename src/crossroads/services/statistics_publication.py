"""Published statistics: the operator's tables released as open data (docs/statistics.md).

Each table is read from its mart's one decided lattice under small-cell and complementary
suppression (StatisticsQueries.suppressed), the same decision the analysts' answers come from,
so that no published cell and no answer combine into a suppressed one. A suppressed cell is
published empty and flagged. Each table's metadata states the protection, its threshold, the
warehouse's extraction positions and when it was generated. Each publication is in the audit
log (kind `statistics`, action `publish`), recorded before any file is written.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..domain.audit import AuditRecord
from ..domain.statistics.marts import mart
from ..domain.statistics.published import PublishedTable
from .clock import Clock
from .ports import AuditLog, Columns, OpenData, Warehouse
from .statistics_queries import AnalystQuery, StatisticsQueries

STREAMS = ("declarations", "exchanges", "deliveries")


class StatisticsPublication:
    def __init__(
        self,
        queries: StatisticsQueries,
        warehouse: Warehouse,
        open_data: OpenData,
        audit: AuditLog,
        clock: Clock,
        tables: tuple[PublishedTable, ...],
        legal_basis: str,
    ) -> None:
        self._queries = queries
        self._warehouse = warehouse
        self._open_data = open_data
        self._audit = audit
        self._clock = clock
        self.tables = tables
        self._legal_basis = legal_basis

    async def publish(self) -> list[dict[str, Any]]:
        """Write every table's files from the warehouse as it stands; their metadata."""
        built = await self._warehouse.marts_positions()
        positions = {s: built.get(s, 0) for s in STREAMS}
        await self._audit.append(
            AuditRecord(
                kind="statistics",
                at_ms=self._clock.now_ms(),
                outcome="ok",
                action="publish",
                target=",".join(t.name for t in self.tables),
                detail={"legal_basis": self._legal_basis, "positions": positions},
            )
        )
        published = []
        for table in self.tables:
            columns, metadata = await self._table(table, positions)
            await self._open_data.write(table.name, columns, metadata)
            published.append(metadata)
        return published

    async def _table(
        self, table: PublishedTable, positions: dict[str, int]
    ) -> tuple[Columns, dict[str, Any]]:
        chosen = mart(table.mart)
        answer = await self._queries.suppressed(
            chosen,
            AnalystQuery(
                mart=table.mart,
                aggregate=table.aggregate,
                measure=table.measure,
                group_by=table.dimensions,
            ),
        )
        cells = answer["cells"]
        columns: Columns = {name: [c[name] for c in cells] for name in table.dimensions}
        columns["value"] = [c["value"] for c in cells]
        columns["suppressed"] = [c["suppressed"] for c in cells]
        generated = dt.datetime.fromtimestamp(self._clock.now_ms() / 1000, dt.UTC)
        metadata = {
            "name": table.name,
            "title": table.title,
            "description": table.description,
            "mart": chosen.name,
            "unit": chosen.unit,
            "dimensions": list(table.dimensions),
            "aggregate": table.aggregate,
            "measure": table.measure,
            "unit_of_measure": chosen.measure(table.measure).unit if table.measure else "count",
            "rows": len(cells),
            "protection": answer["protection"],
            "threshold": answer["protection"]["threshold"],
            "extraction_positions": positions,
            "generated_at": generated.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "files": {kind: f"{table.name}.{kind}" for kind in ("csv", "parquet", "json")},
            "columns": {
                **{d: "a category of the mart (empty: not known)" for d in table.dimensions},
                "value": f"the {table.aggregate}; empty when suppressed",
                "suppressed": "true when the cell is withheld by the protection",
            },
        }
        return columns, metadata
