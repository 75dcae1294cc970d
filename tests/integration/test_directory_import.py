"""Bulk import through the directory service, in several chunks, on both stores."""

from __future__ import annotations

from datetime import date

import pytest

from crossroads.bootstrap import bootstrap
from crossroads.domain.periods import Period
from crossroads.domain.registry import Capacity, Institution
from tests.conftest import make_settings

pytestmark = pytest.mark.anyio
FUND = "0411905847"
PERSON = "85073003328"


@pytest.fixture
async def hub(tmp_path, store_url):
    hub = await bootstrap(make_settings(tmp_path, store_url))
    await hub.registry.put_institution(Institution(FUND, "Fund"))
    await hub.registry.put_capacity(Capacity("INSURED", "Insured"))
    yield hub
    await hub.close()


async def test_chunks_apply_in_file_order_and_each_is_audited(hub):
    lines = [{"subject": PERSON, "institution": FUND, "capacity": "INSURED", "start": "2020-01-01", "end": "2020-06-30"},
             {"subject": "not a number"},
             {"subject": PERSON, "institution": FUND, "capacity": "INSURED", "start": "2020-07-01", "end": "2020-12-31"},
             {"op": "end", "subject": PERSON, "institution": FUND, "capacity": "INSURED", "end": "2020-09-30"},
             {"subject": PERSON, "institution": FUND, "capacity": "INSURED", "start": "2022-01-01"}]
    audited_before = await hub.store.audit.count()
    progress: list[int] = []
    report = await hub.directory.import_lines(lines, None, "test", progress.append, chunk_size=1)
    assert (report.lines, report.applied, [e["line"] for e in report.errors]) == (5, 4, [2])
    assert progress == [1, 1, 1, 1]
    # Merged across chunks 1 and 2, cut by the end in chunk 3: only file order gives this.
    assert [i.period for i in await hub.directory.holders(PERSON)] == [
        Period(date(2020, 1, 1), date(2020, 9, 30)), Period(date(2022, 1, 1))]
    assert await hub.store.audit.count() == audited_before + 4


async def test_a_failing_file_keeps_the_chunks_already_written(hub):
    def lines():
        yield {"subject": PERSON, "institution": FUND, "capacity": "INSURED", "start": "2020-01-01"}
        yield {"op": "end", "subject": PERSON, "institution": FUND, "capacity": "INSURED", "end": "2020-12-31"}
        raise OSError("the file went away")

    with pytest.raises(OSError):
        await hub.directory.import_lines(lines(), None, "test", chunk_size=1)
    # Both chunks were handed to the store before the file failed; the second (the end) landed whole.
    assert [i.period for i in await hub.directory.holders(PERSON)] == [Period(date(2020, 1, 1), date(2020, 12, 31))]
