"""The declarations store's contract, on SQLite and on PostgreSQL over a real connection."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from crossroads.adapters.sql.declarations import SqlDeclarations
from crossroads.adapters.sql.store import open_store
from crossroads.domain.declarations.anomalies import Anomaly
from crossroads.domain.declarations.dimona import Decision, DimonaPeriod
from crossroads.domain.declarations.dmfa import WorkerSummary
from crossroads.domain.declarations.employers import Employer, EmployerRef
from crossroads.domain.declarations.events import Event
from crossroads.domain.declarations.records import Declaration, QueueShare
from crossroads.domain.identifiers import scheme_for
from crossroads.services.declaration_queries import DeclarationQueries

pytestmark = pytest.mark.anyio
ACME = Employer("0403448140", "1000097", "Acme")
ANNA = "85073100130"


@pytest.fixture
async def store(store_url):
    opened = await open_store(store_url)
    await opened.declarations.put_employer(ACME)
    yield opened.declarations
    await opened.close()


def declaration(**changes) -> Declaration:
    base = dict(
        id=None,
        kind="dimona",
        form="DimonaIn",
        employer=ACME.company_id,
        declarant="0200000934:payroll-app",
        status="A",
        anomalies=[],
        language="nl",
        received_at_ms=1,
    )
    return Declaration(**{**base, **changes})


async def test_employers_by_either_number_and_mandates_by_date(store):
    assert await store.find_employer(EmployerRef(company_id=ACME.company_id)) == ACME
    assert await store.find_employer(EmployerRef(noss="1000097")) == ACME
    assert (
        await store.find_employer(EmployerRef("9999", ACME.company_id)) is None
    )  # the numbers disagree
    assert not await store.put_employer(Employer(ACME.company_id, "1000097", "Acme NV"))
    assert (await store.find_employer(EmployerRef(company_id=ACME.company_id))).name == "Acme NV"
    await store.put_mandate("0200000934", ACME.company_id, date(2026, 1, 1), date(2026, 6, 30))
    assert await store.has_mandate("0200000934", ACME.company_id, date(2026, 6, 30))
    assert not await store.has_mandate("0200000934", ACME.company_id, date(2026, 7, 1))
    assert not await store.has_mandate("0200000935", ACME.company_id, date(2026, 3, 1))
    # Of any employer (None): the office declares for someone only while a mandate is valid.
    assert await store.has_mandate("0200000934", None, date(2026, 6, 30))
    assert not await store.has_mandate("0200000934", None, date(2026, 7, 1))
    assert not await store.has_mandate("0200000934", None, date(2025, 12, 31))
    assert not await store.has_mandate("0200000935", None, date(2026, 3, 1))


async def test_record_dimona_numbers_the_period_and_writes_events_in_the_same_transaction(store):
    def decide(periods, named):
        assert periods == [] and named is None
        return Decision(
            [],
            "A",
            ACME,
            ANNA,
            DimonaPeriod(None, ACME.company_id, ANNA, "OTH", "XXX", date(2026, 1, 1), None),
        )

    def describe(decision, period):
        return declaration(period_id=period.id, inss=ANNA), [
            Event("employment.started", ANNA, period.start, period.as_answer())
        ]

    stored, period = await store.record_dimona(ACME.company_id, ANNA, None, decide, describe)
    assert period.id is not None and stored.id is not None and stored.period_id == period.id
    assert await store.periods_of(ANNA) == [period]
    [event] = await store.pending_events(10)
    assert (event.mutation_type, event.subject, event.payload["declaration_id"]) == (
        "employment.started",
        ANNA,
        stored.id,
    )
    assert await store.backlog() == (0, 1)
    await store.mark_published([event.seq])
    assert await store.pending_events(10) == [] and await store.backlog() == (0, 0)

    def refuse(periods, named):
        assert named == period and periods == [period]
        raise RuntimeError("the decision fails")

    with pytest.raises(RuntimeError):
        await store.record_dimona(None, None, period.id, refuse, describe)
    assert (await store.declaration(stored.id + 1)) is None  # nothing half-stored


async def test_concurrent_decisions_about_one_worker_are_serialised(store):
    async def one(start: date):
        def decide(periods, named):
            if any(p.overlaps(start, None) for p in periods):
                return Decision([], "B", ACME, ANNA)
            return Decision(
                [],
                "A",
                ACME,
                ANNA,
                DimonaPeriod(None, ACME.company_id, ANNA, "OTH", None, start, None),
            )

        return await store.record_dimona(
            ACME.company_id,
            ANNA,
            None,
            decide,
            lambda d, p: (declaration(status=d.status, inss=ANNA), []),
        )

    outcomes = await asyncio.gather(*(one(date(2026, 3, day)) for day in range(1, 9)))
    assert sorted(d.status for d, _ in outcomes) == ["A"] + ["B"] * 7
    assert len(await store.periods_of(ANNA)) == 1


async def test_dmfa_wages_replace_the_quarters_earlier_ones(store):
    summaries = [
        WorkerSummary(f"{n:011d}", "495", 1000 + n, 60, 0, ("200",)) for n in range(1500)
    ]  # COPY on PostgreSQL
    first = await store.record(
        declaration(kind="dmfa", form="DmfAOriginal"), [], (20263, ACME.company_id, summaries)
    )
    second = await store.record(
        declaration(kind="dmfa", form="DmfAOriginal"),
        [],
        (
            20263,
            ACME.company_id,
            [*summaries[:1], WorkerSummary("00000000000", "495", 5, 1, 2, ("124",))],
        ),
    )
    assert second.id > first.id
    assert await store.wages_of("00000000000") == [
        {
            "quarter": 20263,
            "employer": ACME.company_id,
            "worker_code": "495",
            "gross_cents": 1005,
            "days": 61,
            "hours": 2,
            "joint_committees": ["200", "124"],
        }
    ]
    assert await store.wages_of("00000000001") == []


async def test_an_institution_reads_its_own_declarations_newest_first_a_page_at_a_time(store):
    ours = [
        await store.record(declaration(declarant=f"0200000934:{app}"), [])
        for app in ("payroll-app", "portal", "payroll-app")
    ]
    await store.record(declaration(declarant="0200000935:payroll-app"), [])
    await store.record(declaration(declarant="02000009341:x"), [])  # another number's prefix
    newest = await store.declarations_of("0200000934", None, 2)
    assert [d.id for d in newest] == [ours[2].id, ours[1].id]
    older = await store.declarations_of("0200000934", newest[-1].id, 2)
    assert [d.id for d in older] == [ours[0].id]


async def test_the_declarations_made_for_an_employer_by_anyone_newest_first(store):
    made_for = [
        await store.record(declaration(declarant=declarant), [])
        for declarant in ("0200000934:payroll-app", "0200000935:other-office", "0200000934:portal")
    ]
    await store.record(declaration(employer="0410000192"), [])  # another employer's
    await store.record(declaration(employer=None), [])  # unreadable: made for no one
    newest = await store.declarations_for(ACME.company_id, None, 2)
    assert [d.id for d in newest] == [made_for[2].id, made_for[1].id]
    older = await store.declarations_for(ACME.company_id, newest[-1].id, 2)
    assert [d.id for d in older] == [made_for[0].id]


async def test_an_employers_readable_list_merges_what_it_sent_and_what_was_made_for_it(store):
    """Page after page, the employer reads, newest first and each once, what it sent (for itself,
    or unreadable: for no one) and what any office declared for it; an office reads only what it
    sent."""
    employer, office, other_office = ACME.company_id, "0200000934", "0200000935"
    expected = []
    for n in range(7):
        declarant = [f"{employer}:portal", f"{office}:app", f"{other_office}:app"][n % 3]
        made = await store.record(
            declaration(declarant=declarant, employer=None if n == 3 else employer), []
        )
        if n != 3 or declarant.startswith(employer):
            expected.append(made.id)
    await store.record(declaration(declarant=f"{office}:app", employer="0410000192"), [])
    queries = DeclarationQueries(store, scheme_for("BE"))
    read, before = [], None
    while page := await queries.declarations_readable_by(employer, before, 2):
        read += [d.id for d in page]
        before = page[-1].id
    assert read == sorted(expected, reverse=True)
    office_reads = [d.declarant for d in await queries.declarations_readable_by(office, None, 50)]
    assert len(office_reads) == 3 and set(office_reads) == {f"{office}:app"}


async def test_batches_are_kept_once_and_finished_once(store):
    def admit(waiting: QueueShare) -> None:
        assert waiting.files >= 0

    batch, created = await store.add_batch(
        "0200000934:payroll-app",
        "dimona",
        "ab" * 32,
        "application/xml",
        b"<Dimona/>",
        "fr",
        5,
        admit,
    )
    again, created_again = await store.add_batch(
        "0200000934:other-app", "dimona", "ab" * 32, "application/xml", b"<x/>", "nl", 6, admit
    )
    other, _ = await store.add_batch(
        "0200000935:app", "dimona", "ab" * 32, "application/xml", b"<Dimona/>", "nl", 7, admit
    )
    assert [b.id for b in await store.batches_of("0200000934", 10)] == [batch.id]
    # What an institution has waiting, read before an upload's body is (its quota's first check).
    assert await store.waiting_batches("0200000934") == QueueShare(1, len(b"<Dimona/>"))
    assert await store.waiting_batches("0200000936") == QueueShare(0, 0)
    assert [b.id for b in await store.batches_of("0200000935", 10)] == [other.id]
    as_dmfa, created_as_dmfa = await store.add_batch(
        "0200000934:payroll-app", "dmfa", "ab" * 32, "application/xml", b"<Dimona/>", "nl", 8, admit
    )
    assert created and (again.id, created_again) == (
        batch.id,
        False,
    )  # another application of the same institution
    assert other.id != batch.id  # another institution's file, though the same bytes
    assert created_as_dmfa and as_dmfa.id not in (
        batch.id,
        other.id,
    )  # the same bytes as another kind: another file
    assert (await store.next_batch()).id == batch.id and await store.batch_body(
        batch.id
    ) == b"<Dimona/>"
    assert await store.start_batch(batch.id, 8) == 1
    assert await store.finish_batch(batch.id, "A", {"result": "A"}, 9)
    assert not await store.finish_batch(batch.id, "B", {"result": "B"}, 10)
    assert await store.batch_body(batch.id) is None
    done = await store.batch(batch.id)
    assert (done.status, done.acknowledgement, done.done_at_ms) == ("A", {"result": "A"}, 9)
    await store.record(
        declaration(
            batch_id=batch.id,
            status="B",
            anomalies=[Anomaly("00910-001", "B", {"nl": "Niet aanwezig"}, "/Dimona/Form")],
        ),
        [],
    )
    [kept] = await store.batch_declarations(batch.id)
    assert kept.anomalies[0].code == "00910-001" and kept.anomalies[0].labels == {
        "nl": "Niet aanwezig"
    }


async def test_migration_0012_keeps_every_batch_and_the_declarations_that_name_it(store_url):
    from crossroads.adapters.sql import migrate
    from crossroads.adapters.sql.database import PostgresDatabase, SQLiteDatabase
    from crossroads.adapters.sql.store import sqlite_path

    db = (
        SQLiteDatabase(sqlite_path(store_url))
        if store_url.startswith("sqlite")
        else await PostgresDatabase.connect(store_url)
    )
    try:
        await migrate.current_version(db)
        for number, name, sql in migrate.available(db.dialect):  # a store as issue 5 left it
            if number <= 10:
                async with db.transaction() as tx:
                    for statement in migrate._statements(sql):
                        await tx.execute(statement)
                    await tx.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                        (number, name),
                    )
        async with db.transaction() as tx:
            await tx.execute(
                "INSERT INTO declaration_batches (declarant, institution, kind, sha256,"
                " content_type, body, language, status, received_at_ms)"
                " VALUES ('0200000934:app', '0200000934', 'dmfa', 'ab',"
                " 'application/xml', ?, 'nl', 'S', 1)",
                (b"<DmfAOriginal/>",),
            )
            await tx.execute(
                "INSERT INTO declarations (kind, form, declarant, batch_id, status, anomalies,"
                " summary, language, received_at_ms)"
                " VALUES ('dmfa', 'DmfAOriginal', '0200000934:app', 1, 'B', '[]', '{}', 'nl', 1)"
            )
        assert [name for name in await migrate.migrate(db) if name.startswith("0012")]
        store = SqlDeclarations(db)
        kept = await store.batch(1)
        assert (kept.kind, kept.status, kept.attempts, kept.size_bytes) == (
            "dmfa",
            "S",
            0,
            len(b"<DmfAOriginal/>"),
        )
        assert (
            await store.batch_body(1) == b"<DmfAOriginal/>"
            and len(await store.batch_declarations(1)) == 1
        )
        _, created = await store.add_batch(
            "0200000934:app",
            "dimona",
            "ab",
            "application/xml",
            b"<Dimona/>",
            "nl",
            2,
            lambda waiting: None,
        )
        assert created  # the same hash as another kind is another file now
    finally:
        await db.close()
