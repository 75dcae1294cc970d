"""Bulk import through the directory service, in several chunks, on both stores."""

from __future__ import annotations

import json
from datetime import date

import pytest

from crossroads.bootstrap import bootstrap
from crossroads.domain.periods import Period
from crossroads.domain.registry import Capacity, Institution, IntegrationRight
from tests.conftest import make_settings

pytestmark = pytest.mark.anyio
FUND = "0411905847"
PERSON = "85073003328"


@pytest.fixture
async def hub(tmp_path, store_url):
    hub = await bootstrap(make_settings(tmp_path, store_url), create_keys=True)  # a new hub
    await hub.registry.put_institution(Institution(FUND, "Fund"))
    await hub.registry.put_capacity(Capacity("INSURED", "Insured"))
    await hub.registry.put_integration_right(
        IntegrationRight(FUND, "INSURED", "the fund's licence")
    )
    yield hub
    await hub.close()


async def test_chunks_apply_in_file_order_and_each_is_audited(hub):
    lines = [
        {
            "subject": PERSON,
            "institution": FUND,
            "capacity": "INSURED",
            "start": "2020-01-01",
            "end": "2020-06-30",
        },
        {"subject": "not a number"},
        {
            "subject": PERSON,
            "institution": FUND,
            "capacity": "INSURED",
            "start": "2020-07-01",
            "end": "2020-12-31",
        },
        {
            "op": "end",
            "subject": PERSON,
            "institution": FUND,
            "capacity": "INSURED",
            "end": "2020-09-30",
        },
        {"subject": PERSON, "institution": FUND, "capacity": "INSURED", "start": "2022-01-01"},
    ]
    audited_before = await hub.store.audit.count()
    progress: list[int] = []
    report = await hub.directory.import_lines(lines, None, "test", progress.append, chunk_size=1)
    assert (report.lines, report.applied, [e["line"] for e in report.errors]) == (5, 4, [2])
    assert progress == [
        1,
        1,
        1,
        1,
        1,
    ]  # lines read, the refused one included (a bar's total is the file's lines)
    # Merged across chunks 1 and 2, cut by the end in chunk 3: only file order gives this.
    assert [i.period for i in await hub.directory.holders(PERSON)] == [
        Period(date(2020, 1, 1), date(2020, 9, 30)),
        Period(date(2022, 1, 1)),
    ]
    assert (
        await hub.store.audit.count() == audited_before + 5
    )  # a chunk that only refused is recorded too


async def test_a_failing_file_keeps_the_chunks_already_written(hub):
    def lines():
        yield {"subject": PERSON, "institution": FUND, "capacity": "INSURED", "start": "2020-01-01"}
        yield {
            "op": "end",
            "subject": PERSON,
            "institution": FUND,
            "capacity": "INSURED",
            "end": "2020-12-31",
        }
        raise OSError("the file went away")

    with pytest.raises(OSError):
        await hub.directory.import_lines(lines(), None, "test", chunk_size=1)
    # Both chunks were handed to the store before the file failed; the second (the end) landed
    # whole.
    assert [i.period for i in await hub.directory.holders(PERSON)] == [
        Period(date(2020, 1, 1), date(2020, 12, 31))
    ]


async def test_a_file_parsed_in_worker_processes_applies_and_reports_as_read_here(hub, tmp_path):
    from crossroads.entrypoints.batch import bulk_job
    from crossroads.services.directory_lines import read_import

    other = "85073003327"  # a bad check digit
    rows = ["subject,institution,capacity,start,end"]
    for year in range(2000, 2012):
        rows += [
            f"{PERSON},{FUND},INSURED,{year}-01-01,{year}-06-30",
            f"{other},{FUND},INSURED,{year}-01-01,",
            f"{PERSON},0403170701,INSURED,{year}-01-01,",
            f"{PERSON},{FUND},NOPE,{year}-01-01,",
        ]
    data = ("\n".join(rows) + "\n").encode()
    with bulk_job(1) as pool:
        report = await hub.directory.import_file(
            data, "csv", None, "test", chunk_size=5, parsers=pool
        )
    held = [i.period for i in await hub.directory.holders(PERSON)]
    good = [n for n, _ in enumerate(read_import(data, "csv"), start=1) if n % 4 == 1]
    expected_errors = [n for n in range(1, 49) if n not in good]
    assert (report.lines, report.applied) == (48, 12)
    assert [e["line"] for e in report.errors] == expected_errors
    assert {e["code"] for e in report.errors} == {
        "invalid_identifier",
        "not_found",
        "malformed_request",
    }
    assert held == [Period(date(year, 1, 1), date(year, 6, 30)) for year in range(2000, 2012)]
    # Each block of five lines is one transaction and one audit record, counting what it applied
    # and what it refused (every block here refuses something, so every block is recorded).
    records = [json.loads(entry) for _, entry in await hub.store.audit.read(0, 10_000)]
    imports = [
        (r["detail"]["changes"], r["detail"]["refused"])
        for r in records
        if r.get("action") == "directory.import"
    ]
    firsts = range(1, 49, 5)
    per_block = [sum(1 for n in good if first <= n < first + 5) for first in firsts]
    assert imports == [
        (count, min(5, 49 - first) - count) for first, count in zip(firsts, per_block, strict=True)
    ]
