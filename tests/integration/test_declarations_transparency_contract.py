"""The declarations store and the transparency log: one contract, run against the in-memory fakes
the service tests use (tests/fakes/), SQLite and PostgreSQL, so that a fake that drifts from the
SQL adapters fails here (as tests/integration/test_store_contract.py does for the other ports)."""

from __future__ import annotations

from datetime import date

import pytest

from crossroads.adapters.keys import HubKeys
from crossroads.adapters.sql.store import open_store
from crossroads.domain.audit import AuditRecord
from crossroads.domain.declarations.dimona import Decision, DimonaPeriod
from crossroads.domain.declarations.dmfa import WorkerSummary
from crossroads.domain.declarations.employers import Employer, EmployerRef
from crossroads.domain.declarations.events import Event
from crossroads.domain.declarations.records import DMFA, Declaration
from crossroads.domain.merkle import TreeHead
from crossroads.services.clock import FixedClock
from crossroads.services.transparency import Sequencer

from ..conftest import drop_postgres_database, fresh_postgres_database
from ..fakes import MemoryStore

pytestmark = pytest.mark.anyio
EMPLOYER, OTHER, OFFICE = "0123456749", "0765432146", "0555555523"
INSS = "85073100130"
KEY, OTHER_KEY = bytes(range(32)), bytes(range(1, 33))


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(request, tmp_path):
    if request.param == "memory":
        yield MemoryStore()
        return
    url = (
        f"sqlite:///{tmp_path / 'store.sqlite3'}"
        if request.param == "sqlite"
        else fresh_postgres_database()
    )
    opened = await open_store(url)
    yield opened
    await opened.close()
    if request.param == "postgres":
        drop_postgres_database(url)


def declaration(kind: str = "dimona", status: str = "A", inss: str | None = INSS) -> Declaration:
    return Declaration(
        id=None,
        kind=kind,
        form="DimonaIn" if kind == "dimona" else "DmfAOriginal",
        employer=EMPLOYER,
        declarant=f"{OFFICE}:payroll-app",
        status=status,
        anomalies=[],
        language="en",
        received_at_ms=1,
        inss=inss,
    )


async def test_employers_are_found_by_either_number_and_mandates_by_day(store):
    declarations = store.declarations
    assert await declarations.put_employer(Employer(EMPLOYER, "1234567", "Bakery", True))
    assert not await declarations.put_employer(Employer(EMPLOYER, "1234567", "Bakery SA", True))
    await declarations.put_employer(Employer(OTHER, "7654321", "Garage", True))
    found = await declarations.find_employer(EmployerRef(company_id=EMPLOYER))
    assert found is not None and found.name == "Bakery SA"
    assert await declarations.find_employer(EmployerRef(noss="7654321")) == Employer(
        OTHER, "7654321", "Garage", True
    )
    assert await declarations.find_employer(EmployerRef("7654321", EMPLOYER)) is None
    assert [e.company_id for e in await declarations.list_employers("", 10)] == [EMPLOYER, OTHER]
    assert [e.company_id for e in await declarations.list_employers(EMPLOYER, 10)] == [OTHER]

    await declarations.put_mandate(OFFICE, EMPLOYER, date(2026, 1, 1), date(2026, 3, 31))
    await declarations.put_mandate(OFFICE, OTHER, date(2026, 1, 1), None)
    assert await declarations.has_mandate(OFFICE, EMPLOYER, date(2026, 3, 31))
    assert not await declarations.has_mandate(OFFICE, EMPLOYER, date(2026, 4, 1))
    assert not await declarations.has_mandate(OFFICE, EMPLOYER, date(2025, 12, 31))
    assert await declarations.has_mandate(OFFICE, OTHER, date(2099, 1, 1))
    listed = await declarations.list_mandates(OFFICE, None, None, 10)
    assert [(m.employer, m.valid_to) for m in listed] == [
        (EMPLOYER, date(2026, 3, 31)),
        (OTHER, None),
    ]
    after = (OFFICE, EMPLOYER, date(2026, 1, 1))
    assert [m.employer for m in await declarations.list_mandates(None, None, after, 10)] == [OTHER]


async def test_a_dimona_stores_its_period_declaration_and_events_to_publish(store):
    declarations = store.declarations
    start = date(2026, 6, 1)

    def decide(periods: list[DimonaPeriod], named: DimonaPeriod | None) -> Decision:
        assert (periods, named) == ([], None)
        period = DimonaPeriod(None, EMPLOYER, INSS, "OTH", None, start, None)
        return Decision([], "A", None, INSS, period, created=True)

    def describe(decision: Decision, period: DimonaPeriod | None):
        assert period is not None and period.id is not None
        event = Event("employment.started", INSS, start, {"employer": EMPLOYER})
        return declaration(), [event]

    stored, period = await declarations.record_dimona(EMPLOYER, INSS, None, decide, describe)
    assert stored.id is not None and period is not None
    assert await declarations.declaration(stored.id) == stored
    assert await declarations.periods_of(INSS) == [period]
    assert await declarations.employer_periods(EMPLOYER, start, date(2026, 6, 30)) == {
        INSS: [period]
    }
    assert await declarations.employer_periods(EMPLOYER, date(2026, 1, 1), date(2026, 3, 31)) == {}
    [event] = await declarations.pending_events(10)
    assert (event.mutation_id, event.mutation_type, event.effective_date) == (
        f"declaration-{stored.id}-0",
        "employment.started",
        "2026-06-01",
    )
    assert event.payload == {"employer": EMPLOYER, "declaration_id": stored.id}
    assert (await declarations.backlog())[1] == 1
    await declarations.mark_published([event.seq])
    assert await declarations.pending_events(10) == []


async def test_a_later_dmfa_replaces_the_quarters_wages(store):
    declarations = store.declarations
    first = WorkerSummary(INSS, "495", 100_000, 60, 0, ("200",))
    await declarations.record(declaration(DMFA, inss=None), [], (20261, EMPLOYER, [first]))
    again = WorkerSummary(INSS, "495", 150_000, 65, 0, ("200",))
    await declarations.record(declaration(DMFA, inss=None), [], (20261, EMPLOYER, [again, again]))
    [wages] = await declarations.wages_of(INSS)
    assert (wages["quarter"], wages["gross_cents"], wages["days"]) == (20261, 300_000, 130)
    assert wages["joint_committees"] == ["200"]


async def test_a_subjects_entries_come_newest_first_with_their_leaf_indexes(store, tmp_path):
    for n in range(6):
        await store.audit.append(
            AuditRecord(
                kind="exchange",
                at_ms=n,
                outcome="ok",
                request_id=f"r-{n}",
                subject_hash=(KEY if n % 2 == 0 else OTHER_KEY).hex(),
            )
        )
    log = store.transparency
    sequencer = Sequencer(
        log,
        HubKeys.load_or_create(tmp_path / "keys"),
        FixedClock(1_781_524_800.0),
        head_every_entries=1000,
        head_every_seconds=3600,
    )
    await sequencer.step()
    assert await log.size() == 6 and await log.unsequenced(10) == []
    mine = await log.about_subject(KEY, None, 10)
    assert [AuditRecord.from_canonical(raw).request_id for _, _, raw in mine] == [
        "r-4",
        "r-2",
        "r-0",
    ]
    assert all(index is not None for _, index, _ in mine)
    older = await log.about_subject(KEY, mine[0][0], 1)
    assert [AuditRecord.from_canonical(raw).request_id for _, _, raw in older] == ["r-2"]
    placed = await log.entries(0, 10)
    assert [index for index, _ in placed] == list(range(6))
    assert await log.entry(3) == placed[3][1]

    head = await sequencer.sign_now()
    assert (await log.latest_head(), await log.head(6)) == (head, head)
    await log.put_head(TreeHead(6, b"\0" * 32, 0, "other"))  # a head once stored stays
    assert await log.heads() == [head]
    await log.put_cosignature(6, "https://w.test", "sig-1")
    await log.put_cosignature(6, "https://w.test", "sig-2")
    assert await log.cosignatures(6) == {"https://w.test": "sig-1"}
