"""The operator's published tables: the document that defines them, the charts drawn of them, and
the folder they are served from."""

from __future__ import annotations

import pytest

from crossroads.adapters.open_data import FolderOpenData
from crossroads.domain.errors import Refusal
from crossroads.domain.statistics.charts import MAX_BARS, bar_chart
from crossroads.domain.statistics.published import DEFAULT_TABLES, tables_from

pytestmark = pytest.mark.anyio


def test_a_tables_document_is_checked_against_the_marts():
    tables = tables_from(
        {
            "tables": [
                {
                    "name": "wages_by_committee",
                    "title": "Wages by joint committee",
                    "mart": "employment",
                    "dimensions": ["joint_committee"],
                    "aggregate": "sum",
                    "measure": "gross",
                }
            ]
        }
    )
    assert tables[0].measure == "gross" and tables[0].dimensions == ("joint_committee",)
    wrong = [
        {"tables": [{"name": "x", "title": "x", "mart": "nowhere", "dimensions": ["a"]}]},
        {"tables": [{"name": "x", "title": "x", "mart": "employment", "dimensions": ["inss"]}]},
        {"tables": [{"name": "X/..", "title": "x", "mart": "jobs", "dimensions": ["status"]}]},
        {"tables": [{"name": "x", "title": "x", "mart": "jobs", "dimensions": []}]},
        {"tables": [{"name": "x", "mart": "jobs", "dimensions": ["status"]}]},
        {
            "tables": [
                {"name": "x", "title": "x", "mart": "jobs", "dimensions": ["status"]},
                {"name": "x", "title": "y", "mart": "jobs", "dimensions": ["status"]},
            ]
        },
        {
            "tables": [
                {
                    "name": "x",
                    "title": "x",
                    "mart": "jobs",
                    "dimensions": ["status"],
                    "aggregate": "sum",
                }
            ]
        },
        [],
    ]
    for document in wrong:
        with pytest.raises(Refusal) as refused:
            tables_from(document)
        assert refused.value.code == "malformed_request", document
    assert len({t.name for t in DEFAULT_TABLES}) == len(DEFAULT_TABLES)


def test_a_chart_keeps_suppressed_rows_in_place_and_scales_to_the_largest():
    chart = bar_chart([("2025-01 · ok", 40.0), ("2025-01 · refused", None), ("2025-02", 10.0)])
    widths = [b.width for b in chart.bars]
    assert widths[0] > widths[2] > 0 and widths[1] == 0
    assert [b.value for b in chart.bars] == [40.0, None, 10.0]
    assert chart.bars[1].y > chart.bars[0].y and chart.left_out == 0
    many = bar_chart([(str(i), float(i)) for i in range(MAX_BARS + 5)])
    assert len(many.bars) == MAX_BARS and many.left_out == 5


async def test_the_open_data_folder_serves_only_published_files(tmp_path):
    (tmp_path / "secret.txt").write_text("no")
    folder = FolderOpenData(tmp_path / "published")
    assert await folder.tables() == [] and await folder.rows("t") == []
    await folder.write(
        "t",
        {"quarter": ["20251", "20252"], "value": [12, None], "suppressed": [False, True]},
        {"name": "t"},
    )
    assert await folder.tables() == [{"name": "t"}]
    assert await folder.rows("t") == [
        {"quarter": "20251", "value": "12", "suppressed": "False"},
        {"quarter": "20252", "value": "", "suppressed": "True"},
    ]
    assert folder.file("t.parquet") is not None
    for name in ("../secret.txt", "t.txt", ".t.csv.partial", "T.csv", "nothing.csv"):
        assert folder.file(name) is None
